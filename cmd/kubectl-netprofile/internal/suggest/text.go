package suggest

import (
	"io"
	"strings"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/terminal"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/diagnose"
)

// WriteText prints the suggestion for people: the profiles in order with what each allows, the grants and
// the flows that need them, the Namespace to put in git, and what nothing allows.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	terminal.Fprintf(&b, "Namespace %s: %d observed flows (%d distinct) with %s at one end.\n", r.Namespace, r.Flows, r.Distinct, r.Namespace)
	grants := make([]string, 0, len(r.Grants))
	for _, g := range r.Grants {
		grants = append(grants, g.Resource)
	}
	what := "profile " + r.Profile
	if len(grants) > 0 {
		what += " with grants " + strings.Join(grants, ", ")
	}
	if r.AllAllowed() {
		terminal.Fprintf(&b, "The smallest profile and grants that allow every flow: %s.\n", what)
	} else {
		terminal.Fprintf(&b, "No profile and grants allow every flow; the smallest that allow the most (%d of %d distinct): %s.\n",
			r.Profiles[r.profileIndex()].Allowed, r.Distinct, what)
	}
	terminal.Fprintf(&b, "\nProfiles, smallest first (a profile another contains comes first, then fewer peers, then fewer ports):\n")
	for _, p := range r.Profiles {
		mark := ""
		if p.Name == r.Profile {
			mark = "  <- suggested"
		}
		terminal.Fprintf(&b, "  %-16s %d peers, %5d ports: allows %d of %d distinct flows (with every grant)%s\n",
			p.Name, p.Breadth.Peers, p.Breadth.Ports, p.Allowed, r.Distinct, mark)
	}
	if len(r.Grants) > 0 {
		terminal.Fprintf(&b, "\nGrants:\n")
		for _, g := range r.Grants {
			terminal.Fprintf(&b, "  %-16s needed by %s (e.g. %s)\n", g.Resource, diagnose.Plural(g.Flows, "flow", "flows"), strings.Join(g.Examples, ", "))
		}
	}
	for _, res := range sortedKeys(r.Unavailable) {
		terminal.Fprintf(&b, "  %-16s not available to %s: %s\n", res, r.Namespace, r.Unavailable[res])
	}
	terminal.Fprintf(&b, "\nPut in git (keep the namespace's other labels):\n%s", terminal.Lines(r.YAML()))
	if len(r.Remove) > 0 {
		terminal.Fprintf(&b, "Remove %s: no observed flow needs it.\n", strings.Join(r.Remove, ", "))
	}
	if r.Enforcement != "" {
		terminal.Fprintf(&b, "Then remove %s to enforce, once `kubectl netprofile replay --live -f <this namespace.yaml>` shows nothing would break.\n",
			r.Enforcement)
	}
	if !r.AllAllowed() {
		terminal.Fprintf(&b, "\nNOT ALLOWED BY ANY PROFILE AND GRANT: they need a platform policy or a new profile\n")
		for i, g := range r.NotAllowed {
			terminal.Fprintf(&b, "[%d] %s -> %s on %s: %s (e.g. %s)\n", i+1, g.From, g.To, g.Port, diagnose.Plural(g.Flows, "flow", "flows"), strings.Join(g.Examples, ", "))
			g.WriteJudgement(&b)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Result) profileIndex() int {
	for i, p := range r.Profiles {
		if p.Name == r.Profile {
			return i
		}
	}
	return 0
}

package cli

import (
	"io"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report"
	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/lint"
	"github.com/netprofile/netprofile/pkg/version"
)

// sarifInformationURI is where the rules are explained to someone reading a code scanning alert.
const sarifInformationURI = "https://github.com/netprofile/netprofile#kubectl-netprofile"

// writeSARIF prints the findings as a SARIF 2.1.0 log for code scanning (GitHub, GitLab, Azure DevOps): one run
// of kubectl-netprofile lint, every rule with its description as help, each finding a result at its file and
// line. Every finding is an error, as it makes lint exit 1.
func writeSARIF(w io.Writer, findings []lint.Finding) error {
	rep := report.NewV210Report()
	run := sarif.NewRunWithInformationURI("kubectl-netprofile lint", sarifInformationURI)
	run.Tool.Driver.WithVersion(version.Get().Version)
	for _, id := range slices.Sorted(maps.Keys(lint.Rules)) {
		desc := lint.Rules[id]
		run.AddRule(id).
			WithName(ruleName(id)).
			WithShortDescription(sarif.NewMultiformatMessageString().WithText(desc)).
			WithFullDescription(sarif.NewMultiformatMessageString().WithText(desc)).
			WithHelp(sarif.NewMultiformatMessageString().WithText(desc + ". Each finding says how to fix it; kubectl netprofile lint --rules lists every rule.")).
			WithHelpURI(sarifInformationURI).
			WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel("error"))
	}
	for _, f := range findings {
		loc := sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewSimpleArtifactLocation(artifactURI(f.File)))
		if f.Line > 0 {
			loc.WithRegion(sarif.NewRegion().WithStartLine(f.Line))
		}
		run.CreateResultForRule(f.Rule).
			WithLevel("error").
			WithMessage(sarif.NewTextMessage(f.Object + ": " + f.Message + ". Fix: " + f.Hint)).
			AddLocation(sarif.NewLocationWithPhysicalLocation(loc).
				WithLogicalLocations([]*sarif.LogicalLocation{sarif.NewLogicalLocation().WithFullyQualifiedName(f.Object).WithKind("object")}))
	}
	rep.AddRun(run)
	if err := rep.PrettyWrite(w); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// ruleName is the rule id in the PascalCase SARIF viewers show as the rule's name.
func ruleName(id string) string {
	var b strings.Builder
	for _, part := range strings.Split(id, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// artifactURI is a finding's file as a SARIF URI: relative paths stay relative (code scanning resolves them
// against the repository), absolute ones become file URIs, standard input is "stdin".
func artifactURI(file string) string {
	if file == "<stdin>" {
		return "stdin"
	}
	p := filepath.ToSlash(file)
	if filepath.IsAbs(file) {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p // a Windows drive letter
		}
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	return (&url.URL{Path: strings.TrimPrefix(p, "./")}).String()
}

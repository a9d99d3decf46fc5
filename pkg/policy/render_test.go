package policy_test

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ciliumio "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"
	"github.com/cilium/cilium/pkg/policy/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/pkg/catalogue"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ciliumpolicy/compat"
	"github.com/netprofile/netprofile/pkg/ciliumpolicy/schema"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func samples(t testing.TB) *catalogue.Set {
	t.Helper()
	set, err := catalogue.LoadPaths("../../config/samples")
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func renderer() policy.Renderer {
	return policy.Renderer{Contract: contract.Default(), PlatformNamespaces: map[string]bool{"kube-system": true, "database": true}, ClusterName: policy.DefaultClusterName}
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// golden also checks each object against Cilium's CRD schema, which the manager leaves to the API server.
func golden(t *testing.T, name string, objs ...any) {
	t.Helper()
	for _, o := range objs {
		if err := schema.Validate(o); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	got, err := policy.YAML(objs...)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "golden", name+".yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/policy -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rendered %s differs from %s (go test ./pkg/policy -update rewrites it):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

const (
	profileKey = "network-policy.homelab/profile"
	access     = "access.network-policy.homelab/"
)

func TestNamespaceGolden(t *testing.T) {
	cat := samples(t).Catalogue()
	tests := map[string]map[string]string{
		"profile-isolated":        {profileKey: "isolated"},
		"profile-internal":        {profileKey: "internal"},
		"profile-internal-egress": {profileKey: "internal-egress"},
		"profile-standard":        {profileKey: "standard"},
		"standard-with-every-grant": {profileKey: "standard", access + "postgres": "true", access + "dragonfly": "true",
			access + "garage-s3": "true", access + "kube-api": "true"},
		"grants-without-profile": {access + "postgres": "true", access + "kube-api": "true"},
	}
	for name, labels := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := renderer().Namespace(namespace("my-app", labels), cat, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Policies) != 1 {
				t.Fatalf("want one namespaced policy, got %d", len(res.Policies))
			}
			for _, p := range res.Policies {
				ciliumAccepts(t, p)
			}
			golden(t, name, anySlice(res.Policies)...)
		})
	}
}

func TestNamespaceRendersNothingWithoutLabels(t *testing.T) {
	res, err := renderer().Namespace(namespace("plain", map[string]string{"team": "a"}), samples(t).Catalogue(), nil)
	if err != nil || len(res.Policies) != 0 || !res.Selection.IsEmpty() {
		t.Fatalf("want nothing for an unlabelled namespace, got %v, %v", res, err)
	}
}

func TestNamespaceRefusesBadInput(t *testing.T) {
	cat := samples(t).Catalogue()
	broken := cat.Profiles["standard"].DeepCopy()
	broken.Name = "broken"
	broken.Spec.Egress[0].Ports[0].Port = 70000
	cat.Profiles["broken"] = broken
	noPorts := cat.Profiles["standard"].DeepCopy()
	noPorts.Name = "no-ports"
	noPorts.Spec.Egress[0].Ports = nil
	cat.Profiles["no-ports"] = noPorts
	lower := cat.Profiles["standard"].DeepCopy()
	lower.Name = "lowercase-protocol"
	lower.Spec.Egress[0].Ports[0].Protocol = "tcp"
	cat.Profiles["lowercase-protocol"] = lower
	badResource := cat.Resources["postgres"].DeepCopy()
	badResource.Name = "bad-resource"
	badResource.Spec.Ports = nil
	cat.Resources["bad-resource"] = badResource

	tests := map[string]struct {
		ns         string
		labels     map[string]string
		reason     string
		mentioning string
	}{
		"unknown profile":             {"app", map[string]string{profileKey: "standrd"}, conditions.ReasonProfileNotFound, "known profiles: broken, internal, internal-egress, isolated"},
		"wrong-case profile":          {"app", map[string]string{profileKey: "Standard"}, conditions.ReasonInvalidLabel, `did you mean "standard"`},
		"empty profile":               {"app", map[string]string{profileKey: ""}, conditions.ReasonInvalidLabel, "empty"},
		"access value yes":            {"app", map[string]string{access + "postgres": "yes"}, conditions.ReasonInvalidLabel, `the only value that grants access is "true"`},
		"access value True":           {"app", map[string]string{access + "postgres": "True"}, conditions.ReasonInvalidLabel, `"true"`},
		"unknown resource":            {"app", map[string]string{access + "mysql": "true"}, conditions.ReasonResourceNotFound, "known resources: bad-resource, dragonfly, garage-s3, kube-api, postgres"},
		"typo in a key of the domain": {"app", map[string]string{"network-policy.homelab/profil": "standard"}, conditions.ReasonInvalidLabel, "defines only"},
		"platform namespace profile":  {"kube-system", map[string]string{profileKey: "standard"}, conditions.ReasonPlatformNamespace, "platform namespace"},
		"platform namespace grant":    {"database", map[string]string{access + "kube-api": "true"}, conditions.ReasonPlatformNamespace, "platform namespace"},
		"profile with port 70000":     {"app", map[string]string{profileKey: "broken"}, conditions.ReasonProfileInvalid, "70000"},
		"profile rule without ports":  {"app", map[string]string{profileKey: "no-ports"}, conditions.ReasonProfileInvalid, "no ports"},
		"lowercase protocol":          {"app", map[string]string{profileKey: "lowercase-protocol"}, conditions.ReasonProfileInvalid, "upper case"},
		"resource without ports":      {"app", map[string]string{access + "bad-resource": "true"}, conditions.ReasonResourceInvalid, "no ports"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := renderer().Namespace(namespace(tc.ns, tc.labels), cat, nil)
			refusal, ok := errors.AsType[*policy.Refusal](err)
			if !ok {
				t.Fatalf("want a refusal, got %v (policies %d)", err, len(res.Policies))
			}
			if refusal.Reason != tc.reason || !strings.Contains(refusal.Message, tc.mentioning) {
				t.Errorf("got %s %q, want reason %s mentioning %q", refusal.Reason, refusal.Message, tc.reason, tc.mentioning)
			}
			if len(res.Policies) != 0 {
				t.Errorf("refused labels alone, with nothing applied, must render nothing")
			}
		})
	}
}

// ciliumAccepts hands a rendered policy to Cilium's own types and parser (ciliumv2's Parse, which sanitizes
// every rule): a path independent of the renderer's memoised validation.
func ciliumAccepts(t *testing.T, p *cilium.CiliumNetworkPolicy) {
	t.Helper()
	c, err := compat.CNP(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(slog.New(slog.DiscardHandler), "default"); err != nil {
		t.Errorf("Cilium rejects the rendered policy: %v", err)
	}
}

// TestNamespaceNarrowsWhileRefusing: a refused label keeps what stood for it, and nothing else waits for it.
func TestNamespaceNarrowsWhileRefusing(t *testing.T) {
	cat := samples(t).Catalogue()
	r := renderer()
	standing := func(labels map[string]string) *policy.Applied {
		res, err := r.Namespace(namespace("app", labels), cat, nil)
		if err != nil || len(res.Policies) != 1 {
			t.Fatalf("standing policy: %v", err)
		}
		return r.AppliedOf(res.Policies[0])
	}
	good := standing(map[string]string{profileKey: "standard", access + "kube-api": "true", access + "postgres": "true"})
	forged := *good
	forged.Selection.Grants = append(forged.Selection.Grants, "dragonfly")
	// An isolated namespace's policy whose labels were edited to claim the wider standard profile.
	forgedProfile := *standing(map[string]string{profileKey: "isolated", access + "postgres": "true"})
	forgedProfile.Selection.Profile = "standard"

	// The platform narrows during an incident: HTTPS to the world withdrawn from standard, postgres moved to
	// another port.
	narrowed := func() policy.Catalogue {
		n := cat
		n.Profiles, n.Resources = maps.Clone(cat.Profiles), maps.Clone(cat.Resources)
		std := n.Profiles["standard"].DeepCopy()
		std.Spec.Egress = nil
		n.Profiles["standard"] = std
		pg := n.Resources["postgres"].DeepCopy()
		pg.Spec.Ports[0].Port = 5433
		n.Resources["postgres"] = pg
		return n
	}()
	withoutStandard := cat
	withoutStandard.Profiles = maps.Clone(cat.Profiles)
	delete(withoutStandard.Profiles, "standard")

	tests := map[string]struct {
		labels    map[string]string
		applied   *policy.Applied
		catalogue *policy.Catalogue
		keepAll   bool
		effective string
	}{
		"a narrowed profile applies beside a refused profile label": {
			labels:  map[string]string{profileKey: "standrd", access + "postgres": "true"},
			applied: good, catalogue: &narrowed, effective: `profile "standard" with access to postgres`,
		},
		"a narrowed resource applies to the grant a refused label keeps": {
			labels:  map[string]string{profileKey: "standard", access + "kube-api": "true", access + "postgres": "yes"},
			applied: good, catalogue: &narrowed, effective: `profile "standard" with access to kube-api, postgres`,
		},
		"a profile the standing rules do not show is not trusted: the policy stays whole": {
			labels:  map[string]string{profileKey: "standrd"},
			applied: &forgedProfile, catalogue: &narrowed, keepAll: true,
		},
		"a profile that is gone: the policy stays whole": {
			labels:  map[string]string{profileKey: "standrd"},
			applied: good, catalogue: &withoutStandard, keepAll: true,
		},
		"an unknown key under the domain does not hold up a stricter profile": {
			labels:  map[string]string{profileKey: "isolated", "network-policy.homelab/team": "payments"},
			applied: good, effective: `profile "isolated"`,
		},
		"a grant revoked beside a bad value": {
			labels:  map[string]string{profileKey: "standard", access + "postgres": "true", access + "dragonfly": "yes"},
			applied: good, effective: `profile "standard" with access to postgres`,
		},
		"a stricter profile beside a bad value": {
			labels:  map[string]string{profileKey: "isolated", access + "kube-api": "true", access + "postgres": "true", access + "dragonfly": "yes"},
			applied: good, effective: `profile "isolated" with access to kube-api, postgres`,
		},
		"a bad value keeps a grant that stood": {
			labels:  map[string]string{profileKey: "standard", access + "kube-api": "true", access + "postgres": "yes"},
			applied: good, effective: `profile "standard" with access to kube-api, postgres`,
		},
		"a bad value never opens a grant that did not stand": {
			labels:  map[string]string{profileKey: "isolated", access + "dragonfly": "yes"},
			applied: good, effective: `profile "isolated"`,
		},
		"an unknown profile keeps the profile that stood": {
			labels:  map[string]string{profileKey: "standrd", access + "postgres": "true"},
			applied: good, effective: `profile "standard" with access to postgres`,
		},
		"a misspelt key keeps the profile that stood": {
			labels:  map[string]string{"network-policy.homelab/profil": "isolated"},
			applied: good, effective: `profile "standard"`,
		},
		"nothing stood: only the good labels": {
			labels:    map[string]string{profileKey: "Standard", access + "postgres": "true"},
			effective: `no profile with access to postgres`,
		},
		"labels forged on the standing policy are not trusted: a grant its rules do not show is not kept": {
			labels:  map[string]string{profileKey: "standard", access + "dragonfly": "yes"},
			applied: &forged, effective: `profile "standard"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cat := cat
			if tc.catalogue != nil {
				cat = *tc.catalogue
			}
			res, err := r.Namespace(namespace("app", tc.labels), cat, tc.applied)
			if _, ok := errors.AsType[*policy.Refusal](err); !ok {
				t.Fatalf("want a refusal, got %v", err)
			}
			if res.KeepApplied != tc.keepAll {
				t.Fatalf("KeepApplied = %v, want %v", res.KeepApplied, tc.keepAll)
			}
			if tc.keepAll {
				if len(res.Policies) != 0 {
					t.Fatal("KeepApplied with policies")
				}
				return
			}
			if got := conditions.SelectionText(res.Effective); got != tc.effective {
				t.Errorf("effective %s, want %s", got, tc.effective)
			}
			// The rendered policy is exactly what the effective selection renders on its own.
			want, err := r.Namespace(namespace("app", effectiveLabels(res.Effective)), cat, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, wantYAML := yamlOf(t, res.Policies), yamlOf(t, want.Policies)
			if !bytes.Equal(got, wantYAML) {
				t.Errorf("rendered\n%s\nwant\n%s", got, wantYAML)
			}
		})
	}
}

func effectiveLabels(sel contract.Selection) map[string]string {
	l := map[string]string{}
	if sel.Profile != "" {
		l[profileKey] = sel.Profile
	}
	for _, g := range sel.Grants {
		l[access+g] = "true"
	}
	return l
}

// Deleting a SharedResource revokes it: the grant is withdrawn where it stood, the other labels take effect,
// and the refusal says the resource is gone.
func TestResourceDeletedWithdrawsTheGrant(t *testing.T) {
	r := renderer()
	labels := map[string]string{profileKey: "standard", access + "postgres": "true", access + "kube-api": "true"}
	stood, err := r.Namespace(namespace("app", labels), samples(t).Catalogue(), nil)
	if err != nil || !hasGrantRule(stood, "postgres") {
		t.Fatalf("standing policy: %v", err)
	}
	applied := r.AppliedOf(stood.Policies[0])

	deleted := samples(t).Catalogue()
	delete(deleted.Resources, "postgres")
	deleting := samples(t).Catalogue()
	now := metav1.Now()
	deleting.Resources["postgres"].DeletionTimestamp = &now

	for name, tc := range map[string]struct {
		cat  policy.Catalogue
		says string
	}{
		"deleted":       {deleted, `SharedResource "postgres" does not exist`},
		"being deleted": {deleting, `SharedResource "postgres" is being deleted`},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := r.Namespace(namespace("app", labels), tc.cat, applied)
			refusal, ok := errors.AsType[*policy.Refusal](err)
			if !ok || refusal.Reason != conditions.ReasonResourceNotFound {
				t.Fatalf("want %s, got %v", conditions.ReasonResourceNotFound, err)
			}
			for _, want := range []string{tc.says, "this namespace has no access to postgres (a grant that stood is withdrawn with its SharedResource)"} {
				if !strings.Contains(refusal.Message, want) {
					t.Errorf("message %q does not say %q", refusal.Message, want)
				}
			}
			if res.KeepApplied || len(res.Kept) != 0 || hasGrantRule(res, "postgres") {
				t.Fatalf("the grant that stood must go: KeepApplied %v, Kept %v", res.KeepApplied, res.Kept)
			}
			if got := conditions.SelectionText(res.Effective); got != `profile "standard" with access to kube-api` {
				t.Errorf("effective %s: the other labels must take effect", got)
			}
			// What stood is not needed (it cannot be reproduced without the resource).
			if again, _ := r.Namespace(namespace("app", labels), tc.cat, nil); again.KeepApplied || hasGrantRule(again, "postgres") {
				t.Error("a withdrawal must not wait for what stood")
			}
		})
	}

}

// A namespace whose only grant is withdrawn keeps its own policy, narrowed to its default deny and its
// same-namespace traffic: pruning it would drop that traffic, or, under additive Baselines, open the namespace.
// A namespace where nothing stood gets nothing, as for bad input.
func TestLastGrantWithdrawnKeepsTheNamespaceDefaultDeny(t *testing.T) {
	r := renderer()
	only := map[string]string{access + "postgres": "true"}
	stood, err := r.Namespace(namespace("app", only), samples(t).Catalogue(), nil)
	if err != nil || len(stood.Policies) != 1 {
		t.Fatalf("standing policy: %v", err)
	}
	applied := r.AppliedOf(stood.Policies[0])
	deleted := samples(t).Catalogue()
	delete(deleted.Resources, "postgres")

	res, err := r.Namespace(namespace("app", only), deleted, applied)
	if _, ok := errors.AsType[*policy.Refusal](err); !ok || res.KeepApplied || len(res.Policies) != 1 {
		t.Fatalf("want one policy and a refusal, got %d policies, KeepApplied %v, %v", len(res.Policies), res.KeepApplied, err)
	}
	if hasGrantRule(res, "postgres") || !res.Effective.IsEmpty() {
		t.Errorf("the grant must go: effective %s", conditions.SelectionText(res.Effective))
	}
	rules := string(yamlOf(t, res.Policies))
	if !strings.Contains(rules, "netprofile: pods of this namespace may talk to each other") {
		t.Errorf("the namespace's own traffic must stay allowed:\n%s", rules)
	}
	// The next reconcile reads the narrowed policy back as what stands, and renders it again unchanged.
	again, _ := r.Namespace(namespace("app", only), deleted, r.AppliedOf(res.Policies[0]))
	if string(yamlOf(t, again.Policies)) != rules {
		t.Error("the narrowed policy is not stable")
	}

	if fresh, _ := r.Namespace(namespace("new", only), deleted, nil); len(fresh.Policies) != 0 {
		t.Error("a namespace where nothing stood must get nothing")
	}
}

func TestProfileDeletedIsRefused(t *testing.T) {
	cat := samples(t).Catalogue()
	now := metav1.Now()
	cat.Profiles["standard"].DeletionTimestamp = &now
	_, err := renderer().Namespace(namespace("app", map[string]string{profileKey: "standard"}), cat, nil)
	if r, ok := errors.AsType[*policy.Refusal](err); !ok || r.Reason != conditions.ReasonProfileNotFound {
		t.Fatalf("want ProfileNotFound for a profile being deleted, got %v", err)
	}
}

func TestProviderGolden(t *testing.T) {
	set := samples(t)
	for name, sr := range set.Resources {
		t.Run(name, func(t *testing.T) {
			cnp, err := renderer().Provider(sr)
			if err != nil {
				t.Fatal(err)
			}
			if sr.Spec.Provider.Entity != "" {
				if cnp != nil {
					t.Fatalf("an entity provider has no namespace to write into, got %v", cnp)
				}
				return
			}
			if cnp.Namespace != sr.Spec.Provider.Namespace {
				t.Errorf("provider half in %s, want %s", cnp.Namespace, sr.Spec.Provider.Namespace)
			}
			golden(t, "provider-"+name, cnp)
		})
	}
}

func TestBaselineGolden(t *testing.T) {
	set := samples(t)
	if len(set.Baselines) != 4 {
		t.Fatalf("want the 4 default baselines, got %d", len(set.Baselines))
	}
	for name, b := range set.Baselines {
		t.Run(name, func(t *testing.T) {
			ccnp, err := renderer().Baseline(b)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "baseline-"+name, ccnp)
		})
	}
}

func TestBaselineDisabledRendersNothing(t *testing.T) {
	b := samples(t).Baselines["dns"]
	b.Spec.Enabled = new(bool)
	if ccnp, err := renderer().Baseline(b); ccnp != nil || err != nil {
		t.Fatalf("want nothing for a disabled baseline, got %v %v", ccnp, err)
	}
}

func TestDNSBaselineHasTheL7Rule(t *testing.T) {
	ccnp, err := renderer().Baseline(samples(t).Baselines["dns"])
	if err != nil {
		t.Fatal(err)
	}
	rules := ccnp.Spec.Egress[0].ToPorts[0].Rules
	if rules == nil || len(rules.DNS) != 1 || rules.DNS[0].MatchPattern != "*" {
		t.Fatalf("without the matchPattern \"*\" DNS rule, toFQDNs rules never match; got %+v", rules)
	}
}

func TestAllowAllGolden(t *testing.T) {
	p := policy.AllowAll("my-app")
	if err := policy.Validate(p); err != nil {
		t.Fatal(err)
	}
	golden(t, "allow-all", p)
}

// Same-namespace isolation must come from a namespaced policy: in a clusterwide policy a peer that names no
// namespace means every pod of every namespace (the mistake that left the homelab without isolation).
func TestEmptyPeersOnlyInNamespacedPolicies(t *testing.T) {
	set := samples(t)
	res, err := renderer().Namespace(namespace("my-app", map[string]string{profileKey: "standard", access + "postgres": "true"}), set.Catalogue(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sawEmpty := false
	for _, p := range res.Policies {
		if p.Namespace == "" {
			t.Fatalf("namespace policy %s is not namespaced", p.Name)
		}
		for _, r := range p.Specs {
			sawEmpty = sawEmpty || hasEmptyPeer(r)
		}
	}
	if !sawEmpty {
		t.Fatal("want the same-namespace peer, naming no namespace, in the namespaced policy")
	}
	for name, b := range set.Baselines {
		ccnp, err := renderer().Baseline(b)
		if err != nil {
			t.Fatal(err)
		}
		if hasEmptyPeer(ccnp.Spec) {
			t.Errorf("clusterwide baseline %s has an empty endpoint selector as a peer", name)
		}
	}
}

// hasEmptyPeer reports a peer that names no namespace (by name or by namespace labels): `{}`, or only the
// cluster.
func hasEmptyPeer(r *api.Rule) bool {
	noNamespace := func(s api.EndpointSelector) bool {
		for k := range s.MatchLabels {
			if k != ciliumio.PolicyLabelCluster {
				return false
			}
		}
		return len(s.MatchExpressions) == 0
	}
	for _, in := range r.Ingress {
		if slices.ContainsFunc(in.FromEndpoints, noNamespace) {
			return true
		}
	}
	for _, out := range r.Egress {
		if slices.ContainsFunc(out.ToEndpoints, noNamespace) {
			return true
		}
	}
	return false
}

func TestRenderIsDeterministic(t *testing.T) {
	cat := samples(t).Catalogue()
	labels := map[string]string{profileKey: "standard", access + "postgres": "true", access + "kube-api": "true", access + "dragonfly": "true"}
	first, err := renderer().Namespace(namespace("a", labels), cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := yamlOf(t, first.Policies)
	for range 50 {
		again, err := renderer().Namespace(namespace("a", labels), cat, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := yamlOf(t, again.Policies); !bytes.Equal(got, want) {
			t.Fatalf("render is not deterministic:\n%s\n---\n%s", got, want)
		}
	}
}

func TestValidateRejectsWhatCiliumRejects(t *testing.T) {
	base := func() *cilium.CiliumNetworkPolicy { return policy.AllowAll("x") }
	tests := map[string]func(p *cilium.CiliumNetworkPolicy){
		"port 70000 (Sanitize)": func(p *cilium.CiliumNetworkPolicy) {
			p.Spec.Egress[0].ToPorts = api.PortRules{{Ports: []api.PortProtocol{{Port: "70000", Protocol: api.ProtoTCP}}}}
		},
		"no sections (not enforced)": func(p *cilium.CiliumNetworkPolicy) {
			p.Spec.Ingress, p.Spec.Egress = nil, nil
		},
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			p := base()
			mutate(p)
			if err := policy.Validate(p); err == nil {
				t.Fatal("want a validation error")
			}
		})
	}
	if err := policy.Validate(base()); err != nil {
		t.Fatalf("the unmodified policy must pass: %v", err)
	}
}

func anySlice[T any](in []T) []any {
	out := make([]any, len(in))
	for i := range in {
		out[i] = in[i]
	}
	return out
}

// yamlOf fails the test on a serialisation error: two failed serialisations would otherwise compare equal.
func yamlOf[T any](t *testing.T, objs []T) []byte {
	t.Helper()
	out, err := policy.YAML(anySlice(objs)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Validation is remembered per rules; its message must still name the policy at hand.
func TestValidateNamesEachPolicy(t *testing.T) {
	for _, ns := range []string{"first", "second"} {
		p := policy.AllowAll(ns)
		p.Spec.Ingress, p.Spec.Egress = nil, nil
		err := policy.Validate(p)
		if err == nil || !strings.Contains(err.Error(), ns+"/") {
			t.Fatalf("want an error naming %s, got %v", ns, err)
		}
	}
}

// A deleted SharedResource is withdrawn beside bad input too: a refused label keeps its part of what stood,
// and what stood is told from the policy's parts, so the gone grant is no part of it.
func TestResourceDeletedBesideBadInput(t *testing.T) {
	r := renderer()
	labels := map[string]string{profileKey: "standard", access + "postgres": "true", access + "kube-api": "true"}
	stood, err := r.Namespace(namespace("app", labels), samples(t).Catalogue(), nil)
	if err != nil || !hasGrantRule(stood, "postgres") || !hasGrantRule(stood, "kube-api") {
		t.Fatalf("standing policy: %v", err)
	}
	applied := r.AppliedOf(stood.Policies[0])
	deleted := samples(t).Catalogue()
	delete(deleted.Resources, "postgres")

	bad := maps.Clone(labels)
	bad[access+"kube-api"] = "yes"
	res, err := r.Namespace(namespace("app", bad), deleted, applied)
	if _, ok := errors.AsType[*policy.Refusal](err); !ok {
		t.Fatalf("want a refusal, got %v", err)
	}
	if res.KeepApplied || hasGrantRule(res, "postgres") {
		t.Fatalf("the deleted resource's grant must go: KeepApplied %v", res.KeepApplied)
	}
	if !hasGrantRule(res, "kube-api") || !slices.Contains(res.Kept, "access to kube-api") {
		t.Errorf("the refused label keeps its grant: kept %v", res.Kept)
	}
	if got := conditions.SelectionText(res.Effective); got != `profile "standard" with access to kube-api` {
		t.Errorf("effective %s", got)
	}
}

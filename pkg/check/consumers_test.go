package check_test

import (
	"slices"
	"testing"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
)

// catalogueLimiting is the shipped catalogue with postgres admitting only namespaces matching sel.
func catalogueLimiting(t *testing.T, sel *metav1.LabelSelector) *catalogue.Set {
	t.Helper()
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	if sel != nil {
		cat.Resources["postgres"].Spec.Consumers = &v1alpha1.Consumers{NamespaceSelector: *sel}
	}
	return cat
}

func compute(cat *catalogue.Set, scope desired.Scope, namespaces []*corev1.Namespace) *desired.Set {
	r := policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet(policy.DefaultPlatformNamespaces), ClusterName: policy.DefaultClusterName}
	return desired.Compute(desired.Input{Renderer: r, Namespaces: namespaces, Catalogue: cat, Scope: scope,
		Now: time.Now(), Thresholds: enforcement.DefaultThresholds})
}

func engineOf(t *testing.T, cnps []*ciliumv2.CiliumNetworkPolicy, ccnps []*ciliumv2.CiliumClusterwideNetworkPolicy, namespaces []*corev1.Namespace) *check.Engine {
	t.Helper()
	// The catalogue's namespaces are installed as the README says: marked as the platform's.
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	in := desired.Input{Renderer: policy.Renderer{Contract: contract.Default()}, Catalogue: cat, Namespaces: namespaces}
	e, err := check.New(check.Policies{CNPs: cnps, CCNPs: ccnps, NamespaceLabels: in.NamespaceLabels()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestConsumersLimitTheProvider: both namespaces carry the access label; only the one inside spec.consumers
// reaches postgres, in Cilium's own engine.
func TestConsumersLimitTheProvider(t *testing.T) {
	namespaces := []*corev1.Namespace{
		namespace("payments", map[string]string{profileKey: "isolated", postgresAccess: "true", "team": "payments"}),
		namespace("web", map[string]string{profileKey: "isolated", postgresAccess: "true", "team": "web"}),
	}
	cat := catalogueLimiting(t, &metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}})
	set := compute(cat, desired.All, namespaces)
	if len(set.Problems) != 1 || set.Problems[0].Object != "Namespace web" || set.Problems[0].Reason != conditions.ReasonConsumerNotAllowed {
		t.Fatalf("want only web refused with %s, got %v", conditions.ReasonConsumerNotAllowed, set.Problems)
	}
	e := engineOf(t, set.CNPs, set.CCNPs, namespaces)

	in := mustCheck(t, e, "payments/app=api", "database/app=postgres", "5432/TCP")
	if !in.Allowed {
		t.Fatalf("inside the selector: denied\negress: %s\ningress: %s", in.Egress.Explanation, in.Ingress.Explanation)
	}
	if !slices.Contains(names(in.Ingress.DecidedBy), "CiliumNetworkPolicy database/netprofile-provider-postgres") {
		t.Errorf("ingress decided by %v, want the provider half", names(in.Ingress.DecidedBy))
	}
	out := mustCheck(t, e, "web/app=api", "database/app=postgres", "5432/TCP")
	if out.Allowed || out.Egress.Allowed || out.Ingress.Allowed {
		t.Fatalf("outside the selector: want both halves to deny, got egress %q, ingress %q", out.Egress.Explanation, out.Ingress.Explanation)
	}
}

// TestConsumersProviderHalfAloneShutsOut: a namespace relabelled out of spec.consumers still has its old
// egress until its own reconcile; the provider half, whose selector Cilium evaluates on the namespace labels
// directly, no longer admits it, so the baselines' default deny denies it already. (The provider half only
// adds access: the default deny is the baselines', with the shipped defaultDeny.)
func TestConsumersProviderHalfAloneShutsOut(t *testing.T) {
	namespaces := []*corev1.Namespace{
		namespace("payments", map[string]string{profileKey: "isolated", postgresAccess: "true", "team": "payments"}),
		namespace("web", map[string]string{profileKey: "isolated", postgresAccess: "true", "team": "web"}),
	}
	stale := compute(catalogueLimiting(t, nil), desired.Scope{Namespaces: true}, namespaces)
	providers := compute(catalogueLimiting(t, &metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}), desired.Scope{Cluster: true}, nil)
	if len(stale.Problems)+len(providers.Problems) > 0 {
		t.Fatalf("problems: %v %v", stale.Problems, providers.Problems)
	}
	e := engineOf(t, append(stale.CNPs, providers.CNPs...), providers.CCNPs, namespaces)

	out := mustCheck(t, e, "web/app=api", "database/app=postgres", "5432/TCP")
	if !out.Egress.Allowed {
		t.Fatalf("the stale consumer half should allow egress: %s", out.Egress.Explanation)
	}
	if out.Allowed || out.Ingress.Allowed {
		t.Fatalf("a namespace outside spec.consumers must be denied at the provider: %s", out.Ingress.Explanation)
	}
	if len(out.Ingress.DecidedBy) > 0 || !slices.Contains(names(out.Ingress.SelectedBy), "CiliumClusterwideNetworkPolicy netprofile-baseline-health-probes") {
		t.Errorf("ingress decided by %v, selected by %v: want no rule allowing it and the baselines' default deny",
			names(out.Ingress.DecidedBy), names(out.Ingress.SelectedBy))
	}
	if in := mustCheck(t, e, "payments/app=api", "database/app=postgres", "5432/TCP"); !in.Allowed {
		t.Fatalf("inside the selector: denied: %s / %s", in.Egress.Explanation, in.Ingress.Explanation)
	}
}

// TestConsumersExpressionsAgreeWithAdmits: for every operator, Cilium's verdict on the rendered provider half
// is what policy.Admits (the consumer half's decision) says, including the cases where a label is absent.
func TestConsumersExpressionsAgreeWithAdmits(t *testing.T) {
	sel := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "team", Operator: metav1.LabelSelectorOpIn, Values: []string{"payments", "billing"}},
		{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"dev"}},
		{Key: "example.com/approved", Operator: metav1.LabelSelectorOpExists},
		{Key: "quarantine", Operator: metav1.LabelSelectorOpDoesNotExist},
	}}
	with := func(extra map[string]string) map[string]string {
		l := map[string]string{profileKey: "isolated", postgresAccess: "true"}
		for k, v := range extra {
			l[k] = v
		}
		return l
	}
	namespaces := []*corev1.Namespace{
		namespace("all-good", with(map[string]string{"team": "payments", "env": "prod", "example.com/approved": ""})),
		namespace("no-env", with(map[string]string{"team": "billing", "example.com/approved": "yes"})),
		namespace("dev", with(map[string]string{"team": "payments", "env": "dev", "example.com/approved": ""})),
		namespace("not-approved", with(map[string]string{"team": "payments"})),
		namespace("quarantined", with(map[string]string{"team": "payments", "example.com/approved": "", "quarantine": "true"})),
		namespace("other-team", with(map[string]string{"team": "web", "example.com/approved": ""})),
	}
	cat := catalogueLimiting(t, sel)
	providers := compute(cat, desired.Scope{Cluster: true}, nil)
	stale := compute(catalogueLimiting(t, nil), desired.Scope{Namespaces: true}, namespaces)
	e := engineOf(t, append(stale.CNPs, providers.CNPs...), providers.CCNPs, namespaces)
	admitted := 0
	for _, ns := range namespaces {
		want, err := policy.Admits(cat.Resources["postgres"], ns.Labels)
		if err != nil {
			t.Fatal(err)
		}
		if want {
			admitted++
		}
		res := mustCheck(t, e, ns.Name+"/app=api", "database/app=postgres", "5432/TCP")
		if res.Ingress.Allowed != want {
			t.Errorf("%s: Cilium lets it in = %v, Admits = %v (%s)", ns.Name, res.Ingress.Allowed, want, res.Ingress.Explanation)
		}
	}
	if admitted != 2 {
		t.Errorf("the table should admit exactly all-good and no-env, admitted %d", admitted)
	}
}

package policy_test

import (
	"errors"
	"testing"

	"github.com/cilium/cilium/pkg/policy/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/policy"
)

// FuzzNamespace feeds arbitrary labels and an arbitrary profile rule to the renderer. It must never panic, and
// every output either passes Cilium's own validation and never allows everything, or is a refusal.
func FuzzNamespace(f *testing.F) {
	f.Add("standard", "postgres", "true", "team", "a", int32(443), "TCP", "world", "10.0.0.0/8", false)
	f.Add("Standard", "mysql", "yes", "network-policy.homelab/profil", "x", int32(70000), "tcp", "all", "", true)
	f.Add("", "", "", "", "", int32(0), "", "", "not-a-cidr", true)
	f.Add("fuzzed", "kube-api", "true", "access.network-policy.homelab/", "true", int32(53), "UDP", "kube-apiserver", "169.254.0.0/16", false)
	f.Add("fuzzed", "postgres", "true", "", "", int32(-1), "ANY", "cluster", "::/0", true)
	set := samples(f)
	f.Fuzz(func(t *testing.T, profile, resource, accessValue, extraKey, extraValue string, port int32, protocol, entity, cidr string, anyPort bool) {
		cat := set.Catalogue()
		fuzzed := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "fuzzed"}}
		rule := v1alpha1.Rule{AnyPort: anyPort}
		if !anyPort {
			rule.Ports = []v1alpha1.PortProtocol{{Port: port, Protocol: v1alpha1.Protocol(protocol)}}
		}
		switch {
		case entity != "":
			rule.Entities = []v1alpha1.Entity{v1alpha1.Entity(entity)}
		case cidr != "":
			rule.CIDRs = []string{cidr}
		}
		fuzzed.Spec.Egress = []v1alpha1.Rule{rule}
		fuzzed.Spec.Ingress = []v1alpha1.Rule{rule}
		cat.Profiles["fuzzed"] = fuzzed

		labels := map[string]string{profileKey: profile, access + resource: accessValue}
		if extraKey != "" {
			labels[extraKey] = extraValue
		}
		res, err := renderer().Namespace(namespace("fuzz", labels), cat, nil)
		if err != nil {
			if _, ok := errors.AsType[*policy.Refusal](err); !ok {
				t.Fatalf("an error that is not a refusal: %v", err)
			}
		}
		// With nothing standing, only labels that follow the contract and name valid catalogue objects take
		// effect: a refused label never opens anything.
		if res.KeepApplied && len(res.Policies) > 0 {
			t.Fatal("KeepApplied came with policies")
		}
		if p := res.Effective.Profile; p != "" && (labels[profileKey] != p || cat.Profiles[p] == nil) {
			t.Fatalf("profile %q in effect, labels %v", p, labels)
		}
		for _, g := range res.Effective.Grants {
			if labels[access+g] != "true" || cat.Resources[g] == nil {
				t.Fatalf("grant %q in effect, labels %v", g, labels)
			}
		}
		for _, p := range res.Policies {
			ciliumAccepts(t, p)
			for _, r := range p.Specs {
				for _, e := range r.Egress {
					for _, ent := range e.ToEntities {
						if ent == api.EntityAll {
							t.Fatal("a profile rendered toEntities: all")
						}
					}
					if len(e.ToPorts) == 0 && len(e.ToEndpoints) == 0 {
						t.Fatalf("an any-port egress rule to a non-selector peer: %+v", e)
					}
				}
			}
		}
	})
}

package controllers_test

import (
	"context"
	"slices"
	"strings"
	"time"

	ciliumio "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"
	"github.com/cilium/cilium/pkg/policy/api"
	"github.com/go-logr/logr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/controllers"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
)

// clustersNamed is every cluster a policy's peers name, in a label or an expression, and "" for a pod peer
// that does not mention the cluster key (a peer with a reserved: label is an entity, not a pod).
func clustersNamed(p *cilium.CiliumNetworkPolicy) []string {
	var out []string
	add := func(sels []api.EndpointSelector) {
		for _, es := range sels {
			if es.LabelSelector == nil {
				continue
			}
			mentioned := false
			if v, ok := es.MatchLabels[ciliumio.PolicyLabelCluster]; ok {
				out, mentioned = append(out, v), true
			}
			for _, e := range es.MatchExpressions {
				if e.Key == ciliumio.PolicyLabelCluster {
					out, mentioned = append(out, e.Values...), true
				}
				if strings.HasPrefix(e.Key, "reserved:") || strings.HasPrefix(e.Key, "cidr:") {
					mentioned = true
				}
			}
			for k := range es.MatchLabels {
				if strings.HasPrefix(k, "reserved:") {
					mentioned = true
				}
			}
			if !mentioned {
				out = append(out, "")
			}
		}
	}
	rules := slices.Clone(p.Specs)
	if p.Spec != nil {
		rules = append(rules, p.Spec)
	}
	for _, r := range rules {
		for _, in := range r.Ingress {
			add(in.FromEndpoints)
		}
		for _, in := range r.IngressDeny {
			add(in.FromEndpoints)
		}
		for _, eg := range r.Egress {
			add(eg.ToEndpoints)
		}
		for _, eg := range r.EgressDeny {
			add(eg.ToEndpoints)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var _ = Describe("The cluster name", func() {
	It("is named by every pod peer, and a new name re-renders each policy once", func() {
		ns := newNamespace("cluster", map[string]string{profileKey: "standard"})
		peers := func(name string) func() []string {
			return func() []string {
				p, err := getCNP(ns.Name, name)()
				if err != nil || p == nil {
					return nil
				}
				return clustersNamed(p)
			}
		}
		Eventually(peers(nsPolicy)).Should(Equal([]string{"default"}))
		Eventually(peers(ceilingPolicy)).Should(Equal([]string{"default"}))

		stopManager()
		DeferCleanup(func() {
			stopManager()
			startManager()
			Eventually(peers(nsPolicy)).Should(Equal([]string{"default"}))
		})
		startManagerWith(syncPeriod, "east")
		Eventually(peers(nsPolicy)).Should(Equal([]string{"east"}))
		Eventually(peers(ceilingPolicy)).Should(Equal([]string{"east"}))
		// Once renamed, the policies stand: nothing flips back and forth between the two names.
		gen := present(getCNP(ns.Name, nsPolicy)())
		ceil := present(getCNP(ns.Name, ceilingPolicy)())
		Consistently(getCNP(ns.Name, nsPolicy)).Should(HaveField("ResourceVersion", gen.ResourceVersion))
		Consistently(getCNP(ns.Name, ceilingPolicy)).Should(HaveField("ResourceVersion", ceil.ResourceVersion))
	})

	It("is Cilium's unless --cluster-name says otherwise, and a disagreement is refused", func() {
		ns := newNamespace("cilium-config", nil)
		at := client.ObjectKey{Namespace: ns.Name, Name: "cilium-config"}
		resolve := func(flag string) (string, error) {
			c, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			return controllers.ResolveClusterName(c, k8s, flag, &at, logr.Discard())
		}

		// No ConfigMap: the flag, else Cilium's own default.
		Expect(resolve("")).To(Equal("default"))
		Expect(resolve("east")).To(Equal("east"))

		Expect(k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: at.Namespace, Name: at.Name},
			Data: map[string]string{"cluster-name": "west"}})).To(Succeed())
		Expect(resolve("")).To(Equal("west"))
		Expect(resolve("west")).To(Equal("west"))
		_, err := resolve("east")
		Expect(err).To(MatchError(And(ContainSubstring("east"), ContainSubstring("set --cluster-name"))))
		Expect(strings.Count(err.Error(), "west")).To(BeNumerically(">=", 2))

		// Nothing to read: the flag, unchecked.
		Expect(controllers.ResolveClusterName(ctx, k8s, "east", nil, logr.Discard())).To(Equal("east"))
	})
})

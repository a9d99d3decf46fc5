package e2e

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/netprofile/netprofile/pkg/ownership"
)

// A second installation whose release is named netprofile-<x> writes its own CiliumNetworkPolicy past the
// chart's admission policies, which reserve netprofile-* for generated policies.
var _ = Describe("A release named netprofile-<x>", func() {
	It("is not refused by the chart's own admission policies", func() {
		const other, otherNamespace = "netprofile-blue", "netprofile-blue-system"
		createNamespace(otherNamespace, nil)
		objs := helmTemplate(other, otherNamespace, "-f", "testdata/values.yaml", "--show-only", "templates/manager-ciliumnetworkpolicy.yaml")
		Expect(objs).To(HaveLen(1))
		// What helm install would send, judged by the admission policies in force, stored nowhere.
		out, err := kubectlStdin(manifest(objs), "apply", "--server-side", "--dry-run=server", "-f", "-")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.TrimSpace(out)).To(HaveSuffix("serverside-applied (server dry run)"))
		Expect(objs[0].GetName()).NotTo(HavePrefix(ownership.NamePrefix), "netprofile's users read netprofile-* as generated")
	})
})

package gitops

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers"
)

var update = flag.Bool("update", false, "rewrite docs/gitops/argocd-cm.yaml from docs/gitops/argocd/*.lua")

// argoScripts maps each argocd-cm key to the Lua file it carries: the .lua files are the source, the
// snippet is generated from them.
var argoScripts = []struct{ key, file string }{
	{"resource.customizations.health.Namespace", "argocd/namespace.lua"},
	{"resource.customizations.health." + v1alpha1.GroupVersion.Group + "_NetworkProfile", "argocd/catalogue.lua"},
	{"resource.customizations.health." + v1alpha1.GroupVersion.Group + "_SharedResource", "argocd/catalogue.lua"},
	{"resource.customizations.health." + v1alpha1.GroupVersion.Group + "_Baseline", "argocd/catalogue.lua"},
}

const snippetHeader = `# Argo CD health checks for netprofile: Namespaces (the NetworkPolicy* conditions netprofile writes) and
# netprofile's NetworkProfiles, SharedResources and Baselines (Ready, Reconciling, Stalled, observedGeneration).
# Generated from docs/gitops/argocd/*.lua by ` + "`go test ./test/gitops -run TestArgoCDSnippet -update`" + `: edit those.
#
# Merge it into the argocd-cm of your Argo CD, in Argo CD's namespace (the keys are added; the others stay):
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file docs/gitops/argocd-cm.yaml
# With the argo-cd Helm chart, put the data keys under configs.cm instead.
`

// renderSnippet is the argocd-cm merge patch carrying every script.
func renderSnippet() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(snippetHeader)
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  labels:\n" +
		"    app.kubernetes.io/name: argocd-cm\n    app.kubernetes.io/part-of: argocd\ndata:\n")
	for _, s := range argoScripts {
		script, err := os.ReadFile(docs(s.file))
		if err != nil {
			return nil, err
		}
		b.WriteString("  " + s.key + ": |\n")
		for _, line := range strings.SplitAfter(strings.TrimRight(string(script), "\n")+"\n", "\n") {
			switch line {
			case "":
			case "\n":
				b.WriteString(line)
			default:
				b.WriteString("    " + line)
			}
		}
	}
	return b.Bytes(), nil
}

// TestArgoCDSnippet fails when argocd-cm.yaml and the .lua files differ: byte for byte against what
// renderSnippet makes of them, and, read as Argo CD reads argocd-cm, script for script.
func TestArgoCDSnippet(t *testing.T) {
	want, err := renderSnippet()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(docs("argocd-cm.yaml"), want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(docs("argocd-cm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/gitops/argocd-cm.yaml is not generated from docs/gitops/argocd/*.lua: run go test ./test/gitops -run TestArgoCDSnippet -update")
	}
	overrides, err := argoOverrides()
	if err != nil {
		t.Fatal(err)
	}
	if len(overrides) != len(argoScripts) {
		t.Errorf("argocd-cm.yaml has %d health checks, want %d", len(overrides), len(argoScripts))
	}
	for _, s := range argoScripts {
		script, err := os.ReadFile(docs(s.file))
		if err != nil {
			t.Fatal(err)
		}
		gk := strings.Replace(strings.TrimPrefix(s.key, "resource.customizations.health."), "_", "/", 1)
		if overrides[gk] != string(script) {
			t.Errorf("argocd-cm.yaml: the script Argo CD reads for %s is not %s", gk, s.file)
		}
	}
}

// TestEveryKindIsCovered: every netprofile kind that has a status has an Argo CD health check and Flux
// health check expressions; a kind without one (the LabelContract, which the manager writes and nothing
// reports on) needs none: Argo CD assesses no health for it and kstatus calls it Current (checked on the
// real object in the suite).
func TestEveryKindIsCovered(t *testing.T) {
	scheme, err := controllers.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	overrides, err := argoOverrides()
	if err != nil {
		t.Fatal(err)
	}
	checks, err := fluxChecks()
	if err != nil {
		t.Fatal(err)
	}
	var withStatus []string
	for kind, typ := range scheme.KnownTypes(v1alpha1.GroupVersion) {
		if strings.HasSuffix(kind, "List") || typ.Kind() != reflect.Struct {
			continue
		}
		if _, ok := typ.FieldByName("Status"); !ok {
			continue
		}
		withStatus = append(withStatus, kind)
		gk := schema.GroupKind{Group: v1alpha1.GroupVersion.Group, Kind: kind}
		if _, ok := overrides[gk.Group+"/"+gk.Kind]; !ok {
			t.Errorf("argocd-cm.yaml has no health check for %s", gk)
		}
		if _, ok := fluxCheckFor(checks, gk); !ok {
			t.Errorf("flux-kustomization.yaml has no healthCheckExprs for %s", gk)
		}
	}
	slices.Sort(withStatus)
	if !slices.Equal(withStatus, []string{"Baseline", "NetworkProfile", "SharedResource"}) {
		t.Errorf("netprofile kinds with a status: %v; cover a new one in docs/gitops and in the suite", withStatus)
	}
	if _, ok := fluxCheckFor(checks, schema.GroupKind{Kind: "Namespace"}); !ok {
		t.Error("flux-kustomization.yaml has no healthCheckExprs for Namespace")
	}
}

package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/ciliumpolicy/compat"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/manifest"
	"github.com/netprofile/netprofile/pkg/version"
)

// loadFiles reads YAML files and directories; "-" is standard input.
func (g *globals) loadFiles(paths []string) (*catalogue.Set, error) {
	set := catalogue.NewSet()
	var files []string
	for _, p := range paths {
		if p != "-" {
			files = append(files, p)
			continue
		}
		objs, err := g.reader().Read("<stdin>", g.stdin)
		if err != nil {
			return nil, err
		}
		if err := set.AddObjects(objs); err != nil {
			return nil, err
		}
	}
	if len(files) == 0 {
		return set, nil
	}
	fromFiles, err := catalogue.Read(g.reader(), nil, files...)
	if err != nil {
		return nil, err
	}
	return merge(set, fromFiles), nil
}

// reader reads every file of the run: its limits hold over all of them.
func (g *globals) reader() *manifest.Reader {
	if g.files == nil {
		g.files = manifest.NewReader(manifest.DefaultLimits)
	}
	return g.files
}

// merge adds b's objects to a; catalogue objects of b replace a's of the same name.
func merge(a, b *catalogue.Set) *catalogue.Set {
	maps.Copy(a.Profiles, b.Profiles)
	maps.Copy(a.Resources, b.Resources)
	maps.Copy(a.Baselines, b.Baselines)
	a.Namespaces = append(a.Namespaces, b.Namespaces...)
	a.Other = append(a.Other, b.Other...)
	return a
}

// loadCatalogue reads the catalogue directories, or the shipped catalogue when there are none. Catalogue
// objects found among the -f files override it by name, so a PR that changes both is rendered as merged.
func (g *globals) loadCatalogue(paths []string, files *catalogue.Set) (*catalogue.Set, error) {
	var cat *catalogue.Set
	var err error
	if len(paths) == 0 {
		cat, err = desired.DefaultCatalogue()
	} else {
		cat, err = catalogue.Read(g.reader(), g.stdin, paths...)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to load the catalogue: %w", err)
	}
	if files != nil {
		maps.Copy(cat.Profiles, files.Profiles)
		maps.Copy(cat.Resources, files.Resources)
		maps.Copy(cat.Baselines, files.Baselines)
	}
	return cat, nil
}

// handWritten decodes the policies among the documents that Cilium enforces: its own kinds, and Kubernetes
// NetworkPolicies, which a namespace's own users may write with the edit role. Each is validated as the API
// server and the agent would: a policy Cilium would not enforce must not take part in a what-if, and one
// that is left out silently answers for a different cluster. Documents of other kinds are not policies.
func handWritten(docs []catalogue.Document) (check.Policies, error) {
	var pols check.Policies
	for _, d := range docs {
		switch {
		case d.Kind == ciliumv2.CNPKindDefinition:
			cnp := &ciliumv2.CiliumNetworkPolicy{}
			if err := yaml.UnmarshalStrict(d.Raw, cnp); err != nil {
				return pols, fmt.Errorf("%s: %w", d.Source, err)
			}
			if cnp.Namespace == "" {
				cnp.Namespace = "default" // as kubectl apply without -n
			}
			if err := compat.Validate(cnp); err != nil {
				return pols, fmt.Errorf("%s: %w (run kubectl netprofile lint on it)", d.Source, err)
			}
			pols.CNPs = append(pols.CNPs, cnp)
		case d.Kind == ciliumv2.CCNPKindDefinition:
			ccnp := &ciliumv2.CiliumClusterwideNetworkPolicy{}
			if err := yaml.UnmarshalStrict(d.Raw, ccnp); err != nil {
				return pols, fmt.Errorf("%s: %w", d.Source, err)
			}
			if err := compat.Validate(ccnp); err != nil {
				return pols, fmt.Errorf("%s: %w (run kubectl netprofile lint on it)", d.Source, err)
			}
			pols.CCNPs = append(pols.CCNPs, ccnp)
		case d.APIVersion == networkingv1.SchemeGroupVersion.String() && d.Kind == "NetworkPolicy":
			knp := &networkingv1.NetworkPolicy{}
			if err := yaml.UnmarshalStrict(d.Raw, knp); err != nil {
				return pols, fmt.Errorf("%s: %w", d.Source, err)
			}
			if knp.Namespace == "" {
				knp.Namespace = "default"
			}
			if err := check.ValidateNetworkPolicy(knp); err != nil {
				return pols, fmt.Errorf("%s: NetworkPolicy %s/%s: %w", d.Source, knp.Namespace, knp.Name, err)
			}
			pols.KNPs = append(pols.KNPs, knp)
		}
	}
	return pols, nil
}

// withPolicies adds extra's policies to pols: files and the cluster give the engine one set, whatever the kind.
func withPolicies(pols, extra check.Policies) check.Policies {
	pols.CNPs = append(slices.Clone(pols.CNPs), extra.CNPs...)
	pols.CCNPs = append(slices.Clone(pols.CCNPs), extra.CCNPs...)
	pols.KNPs = append(slices.Clone(pols.KNPs), extra.KNPs...)
	return pols
}

// client connects to the cluster as kubectl would with the same flags (--kubeconfig, --context, --as, ...:
// cli-runtime's ConfigFlags), once per run. Only commands that read the cluster call it, so offline commands
// work without a kubeconfig.
func (g *globals) client() (client.Client, error) {
	if g.cl != nil {
		return g.cl, nil
	}
	cfg, err := g.config.ToRESTConfig()
	if err != nil {
		return nil, &exitError{code: ExitError, err: fmt.Errorf("failed to load kubeconfig: %w", err)}
	}
	cfg.UserAgent = "kubectl-netprofile/" + version.Get().Version
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, ciliumv2.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("failed to build scheme: %w", err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, &exitError{code: ExitError, err: fmt.Errorf("failed to connect to the cluster: %w", err)}
	}
	g.cl = c
	return c, nil
}

// namespace is -n/--namespace as given ("" when not): commands that take a namespace use it, none falls back
// to the kubeconfig context's, since each of them also works without a cluster.
func (g *globals) namespace() string {
	if g.config.Namespace == nil {
		return ""
	}
	return *g.config.Namespace
}

// writeJSON prints v indented, without HTML escaping ("->" stays readable).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("failed to encode JSON: %w", err)
	}
	return nil
}

// writeYAML prints v as YAML (through its JSON form, so field names match -o json).
func writeYAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("failed to encode YAML: %w", err)
	}
	_, err = w.Write(b)
	return err
}

func write(w io.Writer, format string, v any) error {
	if format == "json" {
		return writeJSON(w, v)
	}
	return writeYAML(w, v)
}

// bullet prints lines as an indented list, for problems under a table.
func bullet(lines []string) string {
	var b bytes.Buffer
	for _, l := range slices.Sorted(slices.Values(lines)) {
		b.WriteString("  - " + strings.ReplaceAll(l, "\n", "\n    ") + "\n")
	}
	return b.String()
}

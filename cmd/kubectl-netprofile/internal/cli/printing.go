package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/cmd/get"
)

// Output formats of a command's own, beside kubectl's.
const (
	formatTable = "table" // status's table, the default
	formatWide  = "wide"  // status's table with more columns
)

// printFlags is -o for commands that print Kubernetes objects or a table: kubectl get's formats through
// cli-runtime's printers (json, yaml, name, jsonpath, go-template) and kubectl's custom-columns, so scripts
// written for kubectl work on the plugin's output unchanged. human are the command's own formats (the table,
// wide), which it prints itself.
type printFlags struct {
	output    string
	noHeaders bool
	human     []string

	jsonYAML *genericclioptions.JSONYamlPrintFlags
	name     *genericclioptions.NamePrintFlags
	template *genericclioptions.KubeTemplatePrintFlags
	columns  *get.CustomColumnsPrintFlags
}

// addPrintFlags registers -o (default def), --no-headers, --template and --allow-missing-template-keys, and
// checks -o before the command runs: a format no printer takes is a usage error (exit code 2).
func addPrintFlags(cmd *cobra.Command, def string, human ...string) *printFlags {
	p := &printFlags{
		output: def, human: human,
		jsonYAML: genericclioptions.NewJSONYamlPrintFlags(),
		name:     genericclioptions.NewNamePrintFlags(""),
		template: genericclioptions.NewKubeTemplatePrintFlags(),
		columns:  get.NewCustomColumnsPrintFlags(),
	}
	shown := p.allowed()
	cmd.Flags().StringVarP(&p.output, "output", "o", def, "output format: "+strings.Join(shown, "|")+
		" (jsonpath=…, custom-columns=… as in kubectl get)")
	cmd.Flags().BoolVar(&p.noHeaders, "no-headers", false, "with the table, wide or custom-columns output, do not print headers")
	p.template.AddFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(shown, cobra.ShellCompDirectiveNoFileComp))
	checkBeforeRun(cmd, func() error {
		if p.isHuman() {
			return nil
		}
		_, err := p.printer()
		return err
	})
	return p
}

func (p *printFlags) allowed() []string {
	out := slices.Clone(p.human)
	out = append(out, p.jsonYAML.AllowedFormats()...)
	out = append(out, p.name.AllowedFormats()...)
	out = append(out, p.template.AllowedFormats()...)
	out = append(out, p.columns.AllowedFormats()...)
	return out
}

// isHuman: the command prints this format itself.
func (p *printFlags) isHuman() bool { return slices.Contains(p.human, p.output) }

// format is the -o value without a template ("jsonpath" for jsonpath={...}).
func (p *printFlags) format() string {
	f, _, _ := strings.Cut(p.output, "=")
	return f
}

// printer is cli-runtime's (or kubectl's, for custom-columns) printer for -o.
func (p *printFlags) printer() (printers.ResourcePrinter, error) {
	p.columns.NoHeaders = p.noHeaders
	if pr, err := p.template.ToPrinter(p.output); !genericclioptions.IsNoCompatiblePrinterError(err) {
		return pr, usage(err)
	}
	if pr, err := p.jsonYAML.ToPrinter(p.output); !genericclioptions.IsNoCompatiblePrinterError(err) {
		return pr, usage(err)
	}
	if pr, err := p.columns.ToPrinter(p.output); !genericclioptions.IsNoCompatiblePrinterError(err) {
		return pr, usage(err)
	}
	if pr, err := p.name.ToPrinter(p.output); !genericclioptions.IsNoCompatiblePrinterError(err) {
		return pr, usage(err)
	}
	return nil, usageError("--output %q: use one of %s", p.output, strings.Join(p.allowed(), ", "))
}

// usage makes a printer's error (a template that does not parse, custom-columns without columns) a usage
// error.
func usage(err error) error {
	if err == nil {
		return nil
	}
	return usageError("--output: %w", err)
}

// list is a kubectl List of items, which kubectl's printers print as they print `kubectl get` output: -o json
// and yaml the List, jsonpath and go-template against it ({.items[*]...}), custom-columns one row per item.
func list(items []map[string]any) *unstructured.UnstructuredList {
	l := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}}
	for _, it := range items {
		l.Items = append(l.Items, unstructured.Unstructured{Object: it})
	}
	return l
}

// toMap is v in its JSON form, the form every printer works on.
func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %T: %w", v, err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("failed to decode %T: %w", v, err)
	}
	return m, nil
}

package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/test/testenv"
)

// The three evaluators below mirror, as closely as the public code allows, how Argo CD, Flux and kstatus
// judge an object; each is fed the shipped files in docs/gitops, never a copy.

func docs(name string) string { return filepath.Join(testenv.RepoRoot(), "docs", "gitops", name) }

// --- Argo CD ---------------------------------------------------------------------------------------------

// argoOverrides reads the health scripts from the argocd-cm snippet the way Argo CD's settings manager reads
// argocd-cm (util/settings: appendResourceOverridesFromSplitKeys, convertToOverrideKey): a key
// resource.customizations.health.<group>_<kind> (or .<kind> for the core group) becomes the override
// "<group>/<kind>" (or "<kind>").
func argoOverrides() (map[string]string, error) {
	b, err := os.ReadFile(docs("argocd-cm.yaml"))
	if err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{}
	if err := yaml.UnmarshalStrict(b, cm); err != nil {
		return nil, fmt.Errorf("argocd-cm.yaml: %w", err)
	}
	out := map[string]string{}
	for k, v := range cm.Data {
		if !strings.HasPrefix(k, "resource.customizations.") {
			continue
		}
		parts := strings.SplitN(k, ".", 4)
		if len(parts) < 4 || parts[2] != "health" {
			return nil, fmt.Errorf("argocd-cm.yaml: %s is not a health customization", k)
		}
		gk := strings.Split(parts[3], "_")
		switch {
		case len(gk) == 2:
			out[gk[0]+"/"+gk[1]] = v
		case len(gk) == 1 && gk[0] != "":
			out[gk[0]] = v
		default:
			return nil, fmt.Errorf("argocd-cm.yaml: %s: Argo CD rejects this group kind", k)
		}
	}
	return out, nil
}

// argoKey is Argo CD's lookup key of an object's health script (util/lua GetConfigMapKey).
func argoKey(gvk schema.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Kind
	}
	return gvk.Group + "/" + gvk.Kind
}

// argoHealth is the health Argo CD's Lua VM (util/lua runLua, ExecuteHealthLua) computes with script: a state
// with the standard libraries skipped, as for every script from argocd-cm unless useOpenLibs is set, then
// only package, base and table opened (Argo CD also opens a reduced os library with time and date; the
// scripts use none of it, so leaving it out can only make a script fail here that would run there), a
// one-second deadline, the object as the global `obj`, and a table with status and message returned. A
// status Argo CD does not know becomes Unknown.
func argoHealth(script string, u *unstructured.Unstructured) (health, message string, err error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return "", "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", luaValue(l, u.Object))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("expect table output from Lua script, not %s", l.Get(-1).Type())
	}
	// Argo CD encodes the table as JSON into {status, message}: both must be strings when present.
	field := func(name string) (string, error) {
		switch v := ret.RawGetString(name).(type) {
		case lua.LString:
			return string(v), nil
		case *lua.LNilType:
			return "", nil
		default:
			return "", fmt.Errorf("%s is a %s, not a string", name, v.Type())
		}
	}
	if health, err = field("status"); err != nil {
		return "", "", err
	}
	if message, err = field("message"); err != nil {
		return "", "", err
	}
	switch health {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
		return health, message, nil
	}
	return "Unknown", "Lua returned an invalid health status", nil
}

// luaValue is Argo CD's decodeValue: the object as decoded from JSON (numbers int64 or float64) into Lua.
func luaValue(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(luaValue(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), luaValue(l, item))
		}
		return t
	}
	return lua.LNil
}

// --- Flux -----------------------------------------------------------------------------------------------

// fluxCheck is one entry of a Kustomization's spec.healthCheckExprs.
type fluxCheck struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Current    string `json:"current"`
	InProgress string `json:"inProgress,omitempty"`
	Failed     string `json:"failed,omitempty"`
}

// fluxChecks reads spec.healthCheckExprs of the shipped Kustomization.
func fluxChecks() ([]fluxCheck, error) {
	b, err := os.ReadFile(docs("flux-kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &u.Object); err != nil {
		return nil, fmt.Errorf("flux-kustomization.yaml: %w", err)
	}
	if u.GetAPIVersion() != "kustomize.toolkit.fluxcd.io/v1" || u.GetKind() != "Kustomization" {
		return nil, fmt.Errorf("flux-kustomization.yaml is a %s %s, not a Flux Kustomization", u.GetAPIVersion(), u.GetKind())
	}
	exprs, found, err := unstructured.NestedSlice(u.Object, "spec", "healthCheckExprs")
	if err != nil {
		return nil, fmt.Errorf("flux-kustomization.yaml: spec.healthCheckExprs: %w", err)
	}
	if !found {
		return nil, errors.New("flux-kustomization.yaml: no spec.healthCheckExprs")
	}
	// Strictly: a misspelt field (inprogress, say) is dropped silently by the API server's pruning.
	raw, err := yaml.Marshal(exprs)
	if err != nil {
		return nil, err
	}
	var checks []fluxCheck
	if err := yaml.UnmarshalStrict(raw, &checks); err != nil {
		return nil, fmt.Errorf("flux-kustomization.yaml: spec.healthCheckExprs: %w", err)
	}
	return checks, nil
}

// fluxCheckFor is the entry Flux uses for gk: the first with that group and kind (runtime/cel
// PollerWithCustomHealthChecks).
func fluxCheckFor(checks []fluxCheck, gk schema.GroupKind) (fluxCheck, bool) {
	for _, c := range checks {
		if schema.FromAPIVersionAndKind(c.APIVersion, c.Kind).GroupKind() == gk {
			return c, true
		}
	}
	return fluxCheck{}, false
}

// celProgram compiles an expression in Flux's environment (fluxcd/pkg runtime/cel NewExpression, as the
// status evaluator calls it): parsed, not type-checked, since objects need not have the usual top-level
// fields, so every top-level field of the object is a variable of unknown type.
func celProgram(expr string) (cel.Program, error) {
	env, err := cel.NewEnv(
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
	)
	if err != nil {
		return nil, err
	}
	ast, iss := env.Parse(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("failed to parse the CEL expression %q: %w", expr, iss.Err())
	}
	return env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(100))
}

// fluxStatus is what Flux's CEL status evaluator (runtime/cel StatusEvaluator.Evaluate, RFC 0009) computes:
// InProgress when status.observedGeneration differs from metadata.generation, else the status of the first
// of inProgress, failed, current that is true, else InProgress. An expression that does not evaluate to a
// boolean is an error, which Flux reports instead of a status.
func fluxStatus(c fluxCheck, u *unstructured.Unstructured) (status.Status, error) {
	obj := u.UnstructuredContent()
	if observed, ok, err := unstructured.NestedInt64(obj, "status", "observedGeneration"); err != nil {
		return "", err
	} else if ok {
		generation, ok, err := unstructured.NestedInt64(obj, "metadata", "generation")
		if err != nil {
			return "", err
		}
		if ok && observed != generation {
			return status.InProgressStatus, nil
		}
	}
	if c.Current == "" {
		return "", errors.New("expression Current not specified")
	}
	for _, e := range []struct {
		expr   string
		status status.Status
	}{{c.InProgress, status.InProgressStatus}, {c.Failed, status.FailedStatus}, {c.Current, status.CurrentStatus}} {
		if e.expr == "" {
			continue
		}
		prg, err := celProgram(e.expr)
		if err != nil {
			return "", err
		}
		val, _, err := prg.ContextEval(context.Background(), obj)
		if err != nil {
			return "", fmt.Errorf("failed to evaluate the CEL expression %q: %w", e.expr, err)
		}
		b, ok := val.(celtypes.Bool)
		if !ok {
			return "", fmt.Errorf("CEL expression %q is not a boolean", e.expr)
		}
		if b {
			return e.status, nil
		}
	}
	return status.InProgressStatus, nil
}

// --- all three ------------------------------------------------------------------------------------------

// verdict is what the three tools say about one object.
type verdict struct {
	Argo, ArgoMessage string
	Flux              status.Status
	// Kstatus is kstatus' own Compute, what Flux uses for a kind without healthCheckExprs.
	Kstatus status.Status
}

// judge evaluates u with the shipped Argo CD script and Flux expressions for its kind, and with kstatus.
func judge(u *unstructured.Unstructured) (verdict, error) {
	var v verdict
	overrides, err := argoOverrides()
	if err != nil {
		return v, err
	}
	script, ok := overrides[argoKey(u.GroupVersionKind())]
	if !ok {
		return v, fmt.Errorf("argocd-cm.yaml has no health check for %s", argoKey(u.GroupVersionKind()))
	}
	if v.Argo, v.ArgoMessage, err = argoHealth(script, u); err != nil {
		return v, fmt.Errorf("Argo CD: %w", err)
	}
	checks, err := fluxChecks()
	if err != nil {
		return v, err
	}
	check, ok := fluxCheckFor(checks, u.GroupVersionKind().GroupKind())
	if !ok {
		return v, fmt.Errorf("flux-kustomization.yaml has no healthCheckExprs for %s", u.GroupVersionKind().GroupKind())
	}
	if v.Flux, err = fluxStatus(check, u); err != nil {
		return v, fmt.Errorf("Flux: %w", err)
	}
	res, err := status.Compute(u)
	if err != nil {
		return v, fmt.Errorf("kstatus: %w", err)
	}
	v.Kstatus = res.Status
	return v, nil
}

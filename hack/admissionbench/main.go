// Command admissionbench measures what the chart's Namespace admission policies cost a namespace with many
// labels, on a real kube-apiserver and etcd (built by hack/tools.sh). One namespace carrying -labels labels
// is created before any policy exists; then it times -updates merge patches of that namespace for each kind of
// update (an unrelated label, an unrelated annotation, a netprofile label: the profile, flipped between two
// that exist) and each setting: every chart of -charts (every Namespace policy on, the opt-in ones included),
// and no policy at all. The settings take turns on one API server, -rounds times, so a machine whose load
// changes weighs on each alike. It prints one Markdown table.
//
//	git archive main charts/netprofile | tar -x -C /tmp/before
//	go run ./hack/admissionbench -labels 5000 -updates 1000 -charts before=/tmp/before/charts/netprofile,after=charts/netprofile
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/test/testenv"
)

const (
	namespace        = "bench-labels"
	releaseNamespace = "netprofile-system"
)

type kind struct {
	name  string
	patch func(i int) map[string]any
}

var c = contract.Default()

var allKinds = []kind{
	{"label", func(i int) map[string]any {
		return map[string]any{"labels": map[string]string{"team": fmt.Sprintf("t%d", i)}}
	}},
	{"annotation", func(i int) map[string]any {
		return map[string]any{"annotations": map[string]string{"example.com/note": fmt.Sprintf("n%d", i)}}
	}},
	{"profile", func(i int) map[string]any {
		return map[string]any{"labels": map[string]string{c.ProfileKey(): []string{"internal", "standard"}[i%2]}}
	}},
}

var kindText = map[string]string{"label": "an unrelated label", "annotation": "an unrelated annotation", "profile": "the profile label"}

func main() {
	labels := flag.Int("labels", 5000, "labels on the namespace besides netprofile's")
	updates := flag.Int("updates", 1000, "updates per kind and setting")
	charts := flag.String("charts", "chart=charts/netprofile", "name=chart directory, comma separated: the settings to compare")
	kinds := flag.String("kinds", "label,annotation,profile", "kinds of update to time: label, annotation, profile")
	set := flag.String("set", "", "extra helm --set values for every chart, comma separated")
	rounds := flag.Int("rounds", 10, "turns each setting takes; -updates is split among them")
	flag.Parse()
	if *updates%*rounds != 0 {
		fmt.Fprintln(os.Stderr, "-updates must be a multiple of -rounds")
		os.Exit(2)
	}
	var ks []kind
	for _, k := range allKinds {
		if slices.Contains(strings.Split(*kinds, ","), k.name) {
			ks = append(ks, k)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, strings.Split(*charts, ","), *set, ks, *labels, *updates, *rounds)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type stats struct {
	mean, p50, p99 time.Duration
	refused        int
	refusal        string
}

// samples are one setting's latencies of one kind of update, over every round.
type samples struct {
	d       []time.Duration
	refused int
	refusal string
}

func (s *samples) stats() stats {
	d := slices.Sorted(slices.Values(s.d))
	var total time.Duration
	for _, x := range d {
		total += x
	}
	n := len(d)
	return stats{mean: total / time.Duration(n), p50: d[n/2], p99: d[n*99/100], refused: s.refused, refusal: s.refusal}
}

// setting is one set of Namespace admission policies, and how to tell it is the one in force.
type setting struct {
	name     string
	m        rendered
	inForce  func() bool
	measured []samples
}

func run(ctx context.Context, charts []string, set string, kinds []kind, labels, updates, rounds int) (err error) {
	env, err := testenv.Start(testenv.Options{SkipNetprofileCRDs: true})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, env.Stop()) }()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		return err
	}
	for _, name := range []string{releaseNamespace, "database", "cache", "garage"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	// Before any policy: a namespace this large may be refused once the bound is in force.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{c.ProfileKey(): "standard"}}}
	for i := range labels {
		ns.Labels[fmt.Sprintf("example.com/label-%05d", i)] = fmt.Sprintf("value-%d", i)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("failed to create the namespace with %d labels: %w", labels, err)
	}

	// Dry runs that tell the settings apart: a bad profile is refused by every chart; a namespace with more
	// labels than the bound only by a chart that has one.
	dryRun := func(n int, profile string) error {
		probe := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "probe", Labels: map[string]string{c.ProfileKey(): profile}}}
		for i := range n {
			probe.Labels[fmt.Sprintf("example.com/probe-%05d", i)] = "x"
		}
		_, err := cs.CoreV1().Namespaces().Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	refusesBadProfile := func() bool {
		err := dryRun(0, "no-such-profile")
		return err != nil && strings.Contains(err.Error(), "does not exist")
	}
	refusesMany := func() bool {
		err := dryRun(labels, "standard")
		return err != nil && strings.Contains(err.Error(), "labels: netprofile judges")
	}
	var settings []*setting
	for i, spec := range charts {
		name, dir, _ := strings.Cut(spec, "=")
		m, err := render(dir, set)
		if err != nil {
			return err
		}
		if i == 0 {
			if err := kubectl(env, m.crds, "apply", "--server-side", "-f", "-"); err != nil {
				return err
			}
			if err := kubectl(env, nil, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"); err != nil {
				return err
			}
		}
		bounded := bytes.Contains(m.rest, []byte("maxNamespaceLabels"))
		settings = append(settings, &setting{name: name, m: m, inForce: func() bool { return refusesBadProfile() && refusesMany() == bounded }})
	}
	settings = append(settings, &setting{name: "no policies", inForce: func() bool { return !refusesBadProfile() }})
	for _, s := range settings {
		s.measured = make([]samples, len(kinds))
	}

	for round := range rounds {
		for _, s := range settings {
			if s.m.rest != nil {
				if err := kubectl(env, s.m.rest, "apply", "--server-side", "--force-conflicts", "-f", "-"); err != nil {
					return err
				}
			}
			// Exactly this setting's Namespace policies: nothing else of the chart costs a Namespace update.
			if err := prune(env, s.m.policies); err != nil {
				return err
			}
			if err := waitFor(ctx, s.inForce); err != nil {
				return fmt.Errorf("%s: its admission policies never came into force: %w", s.name, err)
			}
			for ki, k := range kinds {
				what := fmt.Sprintf("round %d/%d, %s, %s", round+1, rounds, s.name, k.name)
				if err := timeUpdates(ctx, cs, updates/rounds, round*updates/rounds, what, k.patch, &s.measured[ki]); err != nil {
					return fmt.Errorf("%s: %w", what, err)
				}
			}
		}
	}

	fmt.Printf("\nOne namespace with %d labels; %d merge patches of it per row, one after the other.\n\n", labels+1, updates)
	fmt.Println("| update | policies | mean | p50 | p99 | refused |")
	fmt.Println("|---|---|---|---|---|---|")
	for ki, k := range kinds {
		for _, s := range settings {
			st := s.measured[ki].stats()
			refused := "0"
			if st.refused > 0 {
				refused = fmt.Sprintf("%d: %s", st.refused, st.refusal)
			}
			fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", kindText[k.name], s.name, ms(st.mean), ms(st.p50), ms(st.p99), refused)
		}
	}
	return nil
}

// timeUpdates sends n merge patches of the namespace's metadata (the from-th on), one after the other, and adds
// their latencies to into. A patch that admission refuses is timed too, and counted.
func timeUpdates(ctx context.Context, cs kubernetes.Interface, n, from int, what string, patch func(i int) map[string]any, into *samples) error {
	fmt.Fprintln(os.Stderr, what)
	for i := from; i < from+n; i++ {
		body, err := json.Marshal(map[string]any{"metadata": patch(i)})
		if err != nil {
			return err
		}
		start := time.Now()
		_, err = cs.CoreV1().Namespaces().Patch(ctx, namespace, types.MergePatchType, body, metav1.PatchOptions{})
		took := time.Since(start)
		switch {
		case apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
			into.refused++
			if msg := err.Error(); len(msg) > 160 {
				into.refusal = msg[:160] + "..."
			} else {
				into.refusal = msg
			}
		case err != nil:
			return err
		}
		into.d = append(into.d, took)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

type rendered struct {
	crds, rest []byte
	// policies are the ValidatingAdmissionPolicies that match Namespaces.
	policies []string
}

// render is helm template of a chart with every Namespace policy on: its CRDs, and its admission policies and
// bindings with the LabelContract they read.
func render(chart, set string) (rendered, error) {
	helm, err := testenv.Helm()
	if err != nil {
		return rendered{}, err
	}
	args := []string{"template", "netprofile", chart, "--namespace", releaseNamespace, "--include-crds",
		"--set", "admission.grants.enabled=true", "--set", "admission.escapeHatch.enabled=true",
		"--set", "admission.escapeHatch.requireUntil=true"}
	if set != "" {
		args = append(args, "--set", set)
	}
	cmd := exec.Command(helm, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return rendered{}, fmt.Errorf("helm template: %w: %s", err, stderr.String())
	}
	objs, err := testenv.DecodeObjects(out)
	if err != nil {
		return rendered{}, err
	}
	var r rendered
	var crds, rest bytes.Buffer
	for _, o := range objs {
		var to *bytes.Buffer
		switch o.GetKind() {
		case "CustomResourceDefinition":
			to = &crds
		case "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "LabelContract":
			to = &rest
			if o.GetKind() == "ValidatingAdmissionPolicy" && strings.Contains(fmt.Sprint(o.Object["spec"]), "namespaces") {
				r.policies = append(r.policies, o.GetName())
			}
		default:
			continue
		}
		b, err := json.Marshal(o.Object)
		if err != nil {
			return rendered{}, err
		}
		to.WriteString("---\n")
		to.Write(b)
		to.WriteString("\n")
	}
	r.crds, r.rest = crds.Bytes(), rest.Bytes()
	return r, nil
}

// prune deletes every ValidatingAdmissionPolicy and binding but keep.
func prune(env *testenv.Env, keep []string) error {
	bin, err := testenv.Kubectl()
	if err != nil {
		return err
	}
	out, err := exec.Command(bin, "--kubeconfig", env.Kubeconfig, "get", "validatingadmissionpolicies", "-o", "name").Output()
	if err != nil {
		return fmt.Errorf("failed to list the admission policies: %w", err)
	}
	for _, p := range strings.Fields(string(out)) {
		name := strings.TrimPrefix(p, "validatingadmissionpolicy.admissionregistration.k8s.io/")
		if slices.Contains(keep, name) {
			continue
		}
		if err := kubectl(env, nil, "delete", "validatingadmissionpolicy,validatingadmissionpolicybinding", name, "--ignore-not-found"); err != nil {
			return err
		}
	}
	return nil
}

func kubectl(env *testenv.Env, stdin []byte, args ...string) error {
	bin, err := testenv.Kubectl()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func waitFor(ctx context.Context, ok func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

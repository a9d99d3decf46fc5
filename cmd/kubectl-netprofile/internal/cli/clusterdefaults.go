package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/terminal"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/enforcement"
)

// Flag names of the settings the cluster's LabelContract provides.
const (
	flagLabelDomain     = "label-domain"
	flagPlatform        = "platform-namespaces"
	flagClusterDefaults = "cluster-defaults"
	flagClusterName     = "cluster-name"
)

// resolve settles --label-domain, --platform-namespaces, --cluster-name and the escape hatch's thresholds,
// once per run. A flag the user set always wins. Otherwise commands that read the cluster (g.live), and every
// command with --cluster-defaults, take them from the cluster's LabelContract, so they judge labels as the
// manager and admission do; without one (an older manager, no right to read it) they keep the built-in
// defaults and say so in one line on stderr. Offline commands without --cluster-defaults never touch the
// cluster. The thresholds have no flag, so the LabelContract is read even when every flag is set: a manager
// run with --enforcement-max-disabled ends bypasses the built-in thresholds keep open.
func (g *globals) resolve(ctx context.Context) error {
	if g.resolved {
		return nil
	}
	g.resolved = true
	if !g.live && !g.clusterDefaults {
		return nil
	}
	domainSet, platformSet := g.flags.Changed(flagLabelDomain), g.flags.Changed(flagPlatform)
	c, err := g.client()
	if err != nil {
		return err
	}
	lc, missing, err := findLabelContract(ctx, c, g.domain, domainSet)
	if err != nil {
		return err
	}
	if lc == nil {
		var kept []string
		if !domainSet {
			kept = append(kept, fmt.Sprintf("--%s=%s", flagLabelDomain, g.domain))
		}
		if !platformSet {
			kept = append(kept, fmt.Sprintf("--%s=%s", flagPlatform, strings.Join(g.platform, ",")))
		}
		if len(kept) == 0 {
			kept = append(kept, "escape hatch thresholds")
		}
		terminal.Fprintf(g.stderr, "notice: %s; using the plugin's built-in %s\n", missing, strings.Join(kept, " "))
		return nil
	}
	ctr, settings, err := contract.FromPublished(lc)
	if err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("the cluster's label contract is unusable (set --%s and --%s): %w", flagLabelDomain, flagPlatform, err)}
	}
	if !domainSet {
		g.domain = ctr.Domain()
	}
	if !platformSet {
		g.platform = settings.PlatformNamespaces
	}
	g.protected = settings.ProtectedNamespaceLabels
	if !g.flags.Changed(flagClusterName) && settings.ClusterName != "" {
		g.cluster = settings.ClusterName
	}
	if settings.WarningAfter > 0 {
		g.thresholds = enforcement.Thresholds{WarningAfter: settings.WarningAfter, CriticalAfter: settings.CriticalAfter, MaxDisabled: settings.MaxDisabled}
	}
	return nil
}

// findLabelContract finds the LabelContract of the label domain: by name when the domain was given, otherwise
// the default domain's, or else the only one in the cluster. A nil LabelContract comes with why there is none
// to use; an error is a cluster that could not be read, or a choice the user has to make.
func findLabelContract(ctx context.Context, c client.Client, domain string, explicit bool) (*v1alpha1.LabelContract, string, error) {
	lc := &v1alpha1.LabelContract{}
	err := c.Get(ctx, client.ObjectKey{Name: domain}, lc)
	switch {
	case err == nil:
		return lc, "", nil
	case !apierrors.IsNotFound(err):
		return unreadable(err)
	case explicit:
		return nil, fmt.Sprintf("the cluster has no LabelContract %q", domain), nil
	}
	var list v1alpha1.LabelContractList
	if err := c.List(ctx, &list); err != nil {
		return unreadable(err)
	}
	switch len(list.Items) {
	case 0:
		return nil, "the cluster has no LabelContract (is the manager older than LabelContracts?)", nil
	case 1:
		return &list.Items[0], "", nil
	}
	names := make([]string, 0, len(list.Items))
	for _, l := range list.Items {
		names = append(names, l.Name)
	}
	return nil, "", usageError("the cluster has no LabelContract for the default label domain %s but %d others (%s): choose one with --%s",
		contract.DefaultDomain, len(names), strings.Join(names, ", "), flagLabelDomain)
}

// unreadable sorts a failure to read LabelContracts: a cluster without the API or a user without the right
// to read them falls back to the built-in defaults; anything else is the cluster failing, which is an error.
func unreadable(err error) (*v1alpha1.LabelContract, string, error) {
	switch {
	case apimeta.IsNoMatchError(err) || apierrors.IsNotFound(err):
		return nil, "the cluster has no LabelContract API (is the manager older than LabelContracts?)", nil
	case apierrors.IsForbidden(err):
		return nil, "not allowed to read the cluster's LabelContracts", nil
	}
	return nil, "", &exitError{code: ExitError, err: fmt.Errorf("failed to read the cluster's LabelContract: %w", err)}
}

package controllers

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/policy"
)

// Reading Cilium's ConfigMap needs `get` on that one ConfigMap in its namespace: a Role the chart renders
// from manager.ciliumConfig (templates/manager-cilium-config-role.yaml), not an RBAC marker, since where
// Cilium keeps its configuration is the installation's to say.

// ciliumClusterNameKey is the cluster name in Cilium's own configuration (the cilium-config ConfigMap).
const ciliumClusterNameKey = "cluster-name"

// ClusterNameDecision is which cluster every rendered peer names, and what to say about how it was chosen.
type ClusterNameDecision struct {
	Name string
	// Mismatch: --cluster-name and Cilium's configuration disagree. Every peer netprofile rendered would then
	// select no pod of this cluster: each namespace would lose its allowances and its ceiling would deny
	// nothing, so the manager refuses to start and the policies already applied stand.
	Mismatch bool
	Message  string
}

// DecideClusterName chooses the cluster name from --cluster-name (flag, "" when unset) and Cilium's own
// configuration (cilium, "" when it could not be read, with why in readErr): the flag when set, else Cilium's,
// else Cilium's own default.
func DecideClusterName(flag, cilium, readErr string) ClusterNameDecision {
	switch {
	case flag != "" && cilium != "" && flag != cilium:
		return ClusterNameDecision{Name: flag, Mismatch: true, Message: fmt.Sprintf(
			"--cluster-name=%s but Cilium's cluster-name is %s: every pod peer netprofile renders names cluster %s, so it selects no pod of this cluster; set --cluster-name (the chart's manager.clusterName) to %s",
			flag, cilium, flag, cilium)}
	case flag != "" && cilium != "":
		return ClusterNameDecision{Name: flag, Message: "--cluster-name agrees with Cilium's cluster-name"}
	case flag != "":
		return ClusterNameDecision{Name: flag, Message: "using --cluster-name; Cilium's configuration could not be read to check it: " + readErr}
	case cilium != "":
		return ClusterNameDecision{Name: cilium, Message: "using Cilium's cluster-name"}
	}
	return ClusterNameDecision{Name: policy.DefaultClusterName, Message: fmt.Sprintf(
		"using Cilium's default cluster name %q: --cluster-name is unset and Cilium's configuration could not be read (%s)", policy.DefaultClusterName, readErr)}
}

// ResolveClusterName reads Cilium's cluster-name from its ConfigMap (at; nil reads nothing), decides with
// DecideClusterName and logs the decision. It is an error when the two disagree.
func ResolveClusterName(ctx context.Context, r client.Reader, flag string, at *client.ObjectKey, log logr.Logger) (string, error) {
	cilium, readErr := ciliumClusterName(ctx, r, at)
	d := DecideClusterName(flag, cilium, readErr)
	if d.Mismatch {
		return "", errors.New(d.Message)
	}
	log.Info("Cluster name", "clusterName", d.Name, "reason", d.Message)
	return d.Name, nil
}

// ciliumClusterName is the cluster-name in Cilium's ConfigMap, or why it could not be read.
func ciliumClusterName(ctx context.Context, r client.Reader, at *client.ObjectKey) (name, readErr string) {
	if at == nil {
		return "", "--cilium-config is empty"
	}
	cm := &corev1.ConfigMap{}
	switch err := r.Get(ctx, *at, cm); {
	case apierrors.IsNotFound(err):
		return "", fmt.Sprintf("ConfigMap %s not found", at)
	case err != nil:
		return "", fmt.Sprintf("ConfigMap %s: %v", at, err)
	case cm.Data[ciliumClusterNameKey] == "":
		return "", fmt.Sprintf("ConfigMap %s has no %s", at, ciliumClusterNameKey)
	}
	return cm.Data[ciliumClusterNameKey], ""
}

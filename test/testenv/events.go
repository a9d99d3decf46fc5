package testenv

import (
	"context"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NamespaceEvents lists "<type> <reason> <note>" of the Events about a Namespace (events.k8s.io, the API
// netprofile records with) that are recorded inside it, where its owners read them; nil when the list fails,
// for use inside Eventually.
func NamespaceEvents(ctx context.Context, c client.Reader, ns string) []string {
	list := &eventsv1.EventList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "Namespace" && e.Regarding.Name == ns {
			out = append(out, e.Type+" "+e.Reason+" "+e.Note)
		}
	}
	return out
}

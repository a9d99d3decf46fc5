package e2e

import (
	"net/http"
	"slices"
	"testing"
)

// TestRefused holds the write audit to its promise: only an Event re-created in default after its namespace
// began terminating is forgiven; every other refusal fails the e2e spec "wrote nothing it was refused".
func TestRefused(t *testing.T) {
	const me, other = "workflows", "replica-b"
	moved := write{Instance: me, Verb: "create", Resource: "events", Namespace: "gone", Name: "gone.1", Code: http.StatusForbidden, Terminating: true}
	recreated := write{Instance: me, Verb: "create", Resource: "events", Namespace: "default", Name: "gone.1", Code: http.StatusCreated}
	for _, tc := range []struct {
		name   string
		writes []write
		want   []string
	}{
		{"re-created in default", []write{moved, recreated}, nil},
		{"never re-created", []write{moved}, []string{moved.String()}},
		{"re-created before the refusal", []write{recreated, moved}, []string{moved.String()}},
		{"re-created by another process", []write{moved, {Instance: other, Verb: "create", Resource: "events", Namespace: "default", Name: "gone.1", Code: http.StatusCreated}},
			[]string{moved.String()}},
		{"the re-create refused too", []write{moved, {Instance: me, Verb: "create", Resource: "events", Namespace: "default", Name: "gone.1", Code: http.StatusForbidden}},
			[]string{moved.String(), "workflows create events default/gone.1 403"}},
		{"an RBAC refusal of an Event", []write{{Instance: me, Verb: "create", Resource: "events", Namespace: "app", Name: "app.1", Code: http.StatusForbidden}, recreated},
			[]string{"workflows create events app/app.1 403"}},
		{"a policy write refused in a terminating namespace", []write{{Instance: me, Verb: "create", Resource: "ciliumnetworkpolicies", Namespace: "gone", Name: "netprofile-namespace", Code: http.StatusForbidden, Terminating: true}},
			[]string{"workflows create ciliumnetworkpolicies gone/netprofile-namespace 403"}},
		{"another process's refusal", []write{{Instance: other, Verb: "patch", Resource: "namespaces/status", Name: "app", Code: http.StatusForbidden}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := refused(me, tc.writes); !slices.Equal(got, tc.want) {
				t.Errorf("refused = %q, want %q", got, tc.want)
			}
		})
	}
}

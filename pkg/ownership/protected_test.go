package ownership

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestProtected(t *testing.T) {
	tests := map[string]struct {
		meta metav1.ObjectMeta
		want bool
	}{
		"a generated name":                      {metav1.ObjectMeta{Name: NamespacePolicyName}, true},
		"any name with the prefix":              {metav1.ObjectMeta{Name: "netprofile-extra"}, true},
		"netprofile's label on another name":    {metav1.ObjectMeta{Name: "copy", Labels: map[string]string{ManagedByLabel: ManagedByValue}}, true},
		"a hand-written policy":                 {metav1.ObjectMeta{Name: "allow-all"}, false},
		"another tool's label":                  {metav1.ObjectMeta{Name: "x", Labels: map[string]string{ManagedByLabel: "Helm"}}, false},
		"the prefix inside the name, not first": {metav1.ObjectMeta{Name: "manager-netprofile-blue"}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Protected(&tc.meta); got != tc.want {
				t.Errorf("Protected(%s, %v) = %v, want %v", tc.meta.Name, tc.meta.Labels, got, tc.want)
			}
		})
	}
}

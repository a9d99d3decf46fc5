// Package contract is the single definition of netprofile's label contract: the label and annotation keys
// under the configurable domain, and how a Namespace's labels parse into what the user asked for. Values are
// exact-match; anything else is reported as a Problem, never ignored.
package contract

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// DefaultDomain is the label domain of the seed runbook.
const DefaultDomain = "network-policy.homelab"

// Label values with a meaning.
const (
	// AccessGranted is the only value of an access label that grants access.
	AccessGranted = "true"
	// EnforcementDisabled is the only value of the enforcement label that disables enforcement.
	EnforcementDisabled = "disabled"
	// EnforcementAudit puts a namespace in audit mode: its policies are in place, nothing is dropped, and
	// Hubble shows what enforcement would drop.
	EnforcementAudit = "audit"
	// PlatformMarked is the only value of the platform label: the namespace is the platform's.
	PlatformMarked = "true"
)

// Contract names the keys under one label domain.
type Contract struct {
	domain string
}

// New returns the contract for a label domain such as "network-policy.homelab".
func New(domain string) (Contract, error) {
	if domain == "" {
		return Contract{}, fmt.Errorf("label domain must not be empty")
	}
	// Both the domain and access.<domain> become label key prefixes.
	for _, d := range []string{domain, "access." + domain} {
		if errs := validation.IsDNS1123Subdomain(d); len(errs) > 0 {
			return Contract{}, fmt.Errorf("label domain %q is not usable as a label prefix: %s", domain, strings.Join(errs, "; "))
		}
	}
	return Contract{domain: domain}, nil
}

// Default is the contract for DefaultDomain.
func Default() Contract { return Contract{domain: DefaultDomain} }

// Domain is the label domain.
func (c Contract) Domain() string { return c.domain }

// ProfileKey is the Namespace label that selects a NetworkProfile.
func (c Contract) ProfileKey() string { return c.domain + "/profile" }

// EnforcementKey is the Namespace label of the escape hatch.
func (c Contract) EnforcementKey() string { return c.domain + "/enforcement" }

// PlatformKey marks a Namespace as the platform's (value PlatformMarked). The catalogue's peers and provider
// halves trust a namespace by this mark, never by its name alone: a name can be taken by whoever creates
// the namespace first, the mark only by those admission lets set it.
func (c Contract) PlatformKey() string { return c.domain + "/platform" }

// AccessPrefix is the prefix of access labels; the rest of the key names a SharedResource.
func (c Contract) AccessPrefix() string { return "access." + c.domain + "/" }

// AccessKey is the access label of one SharedResource.
func (c Contract) AccessKey(resource string) string { return c.AccessPrefix() + resource }

// SinceAnnotation records when netprofile first saw enforcement disabled on a Namespace (RFC 3339).
func (c Contract) SinceAnnotation() string { return c.domain + "/enforcement-disabled-since" }

// UntilAnnotation is set by the user to end an enforcement bypass at a time (RFC 3339).
func (c Contract) UntilAnnotation() string { return c.domain + "/enforcement-disabled-until" }

// Selection is what a Namespace's labels ask of the namespace policy: a profile and shared-resource grants.
type Selection struct {
	// Profile is the NetworkProfile name, "" when the label is absent.
	Profile string
	// Grants are the SharedResource names with access granted, sorted.
	Grants []string
}

// IsEmpty reports whether the labels ask for nothing.
func (s Selection) IsEmpty() bool { return s.Profile == "" && len(s.Grants) == 0 }

// Problem is one label that does not follow the contract.
type Problem struct {
	Key, Value string
	// Hint says what to write instead.
	Hint string
}

func (p Problem) String() string {
	return fmt.Sprintf("label %s=%q: %s", p.Key, p.Value, p.Hint)
}

// Parse reads the profile and access labels. Problems are sorted by key. Every key under the domain that the
// contract does not define is a Problem, so a typo such as `profil` is reported instead of silently ignored.
func (c Contract) Parse(labels map[string]string) (Selection, []Problem) {
	var sel Selection
	var problems []Problem
	for _, key := range slices.Sorted(maps.Keys(labels)) {
		value := labels[key]
		switch {
		case key == c.ProfileKey():
			if hint := nameHint("NetworkProfile", value); hint != "" {
				problems = append(problems, Problem{Key: key, Value: value, Hint: hint})
				continue
			}
			sel.Profile = value
		case strings.HasPrefix(key, c.AccessPrefix()):
			resource := strings.TrimPrefix(key, c.AccessPrefix())
			if value != AccessGranted {
				problems = append(problems, Problem{Key: key, Value: value,
					Hint: fmt.Sprintf("the only value that grants access is %q; remove the label to revoke it", AccessGranted)})
				continue
			}
			if hint := nameHint("SharedResource", resource); hint != "" {
				problems = append(problems, Problem{Key: key, Value: value, Hint: hint})
				continue
			}
			sel.Grants = append(sel.Grants, resource)
		case key == c.EnforcementKey():
			// The escape hatch has its own reconciler and its own parsing (pkg/enforcement).
		case key == c.PlatformKey():
			if value != PlatformMarked {
				problems = append(problems, Problem{Key: key, Value: value,
					Hint: fmt.Sprintf("the only value that marks a namespace as the platform's is %q; remove the label otherwise", PlatformMarked)})
			}
		case strings.HasPrefix(key, c.domain+"/"):
			problems = append(problems, Problem{Key: key, Value: value,
				Hint: fmt.Sprintf("netprofile defines only %s, %s and %s under %s/", c.ProfileKey(), c.EnforcementKey(), c.PlatformKey(), c.domain)})
		}
	}
	return sel, problems
}

// Mentions reports whether any label uses the contract's domain (profile, access, enforcement or a typo).
func (c Contract) Mentions(labels map[string]string) bool {
	for key := range labels {
		if c.Owns(key) {
			return true
		}
	}
	return false
}

// Owns reports whether a label key is under the contract's domain (profile, access, enforcement or a typo).
func (c Contract) Owns(key string) bool {
	return strings.HasPrefix(key, c.domain+"/") || strings.HasPrefix(key, c.AccessPrefix())
}

// nameHint explains why s is not a valid name of a catalogue object of the kind, or returns "".
func nameHint(kind, s string) string {
	if s == "" {
		return "must name a " + kind + ", it is empty"
	}
	if errs := validation.IsDNS1123Label(s); len(errs) == 0 {
		return ""
	}
	if lower := strings.ToLower(s); lower != s && len(validation.IsDNS1123Label(lower)) == 0 {
		return fmt.Sprintf("%s names are lower case: did you mean %q?", kind, lower)
	}
	return "is not a valid " + kind + " name (lower-case letters, digits and '-')"
}

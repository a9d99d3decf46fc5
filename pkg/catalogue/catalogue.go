// Package catalogue reads netprofile's catalogue (NetworkProfiles, SharedResources, Baselines) and Namespaces
// from YAML files (through pkg/manifest's bounded reader), for the offline CLI and the tests; in the cluster the
// manager reads the same objects from its cache.
package catalogue

import (
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/manifest"
	"github.com/netprofile/netprofile/pkg/policy"
)

// Set is what a set of files held.
type Set struct {
	Profiles   map[string]*v1alpha1.NetworkProfile
	Resources  map[string]*v1alpha1.SharedResource
	Baselines  map[string]*v1alpha1.Baseline
	Namespaces []*corev1.Namespace
	// Other holds documents of other kinds, with where they came from, for callers that read more kinds.
	Other []Document
}

// Document is one YAML document and where it was.
type Document struct {
	Source     string // file:line
	APIVersion string
	Kind       string
	Raw        []byte
}

// Catalogue returns the profiles, resources and baselines in the form the renderer takes.
func (s *Set) Catalogue() policy.Catalogue {
	return policy.Catalogue{Profiles: s.Profiles, Resources: s.Resources, Baselines: s.Baselines}
}

// NewSet returns an empty set.
func NewSet() *Set {
	return &Set{
		Profiles:  map[string]*v1alpha1.NetworkProfile{},
		Resources: map[string]*v1alpha1.SharedResource{},
		Baselines: map[string]*v1alpha1.Baseline{},
	}
}

// LoadPaths reads every .yaml, .yml and .json file under the paths (files or directories), in lexical order,
// within manifest.DefaultLimits.
func LoadPaths(paths ...string) (*Set, error) {
	return Read(manifest.NewReader(manifest.DefaultLimits), nil, paths...)
}

// Read reads every .yaml, .yml and .json file under the paths through r; "-" is stdin.
func Read(r *manifest.Reader, stdin io.Reader, paths ...string) (*Set, error) {
	objs, err := r.ReadPaths(stdin, paths...)
	if err != nil {
		return nil, err
	}
	s := NewSet()
	if err := s.AddObjects(objs); err != nil {
		return nil, err
	}
	return s, nil
}

// Add decodes the objects of one file into the set, within manifest.DefaultLimits.
func (s *Set) Add(source string, data []byte) error {
	objs, err := manifest.NewReader(manifest.DefaultLimits).Parse(source, data)
	if err != nil {
		return err
	}
	return s.AddObjects(objs)
}

// AddObjects decodes objects into the set. Unknown fields are errors: a typo in a catalogue must not silently
// drop a rule.
func (s *Set) AddObjects(objs []manifest.Object) error {
	for i := range objs {
		if objs[i].Node == nil {
			continue
		}
		doc, err := objs[i].YAML()
		if err != nil {
			return err
		}
		if err := s.addDocument(objs[i].Source(), doc); err != nil {
			return err
		}
	}
	return nil
}

// addDocument decodes one object (the reader has expanded Lists) as the API server would.
func (s *Set) addDocument(where string, doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	gv := v1alpha1.GroupVersion.String()
	switch {
	case tm.APIVersion == gv && tm.Kind == "NetworkProfile":
		return decodeInto(where, doc, s.Profiles)
	case tm.APIVersion == gv && tm.Kind == "SharedResource":
		return decodeInto(where, doc, s.Resources)
	case tm.APIVersion == gv && tm.Kind == "Baseline":
		return decodeInto(where, doc, s.Baselines)
	case tm.APIVersion == "v1" && tm.Kind == "Namespace":
		ns := &corev1.Namespace{}
		if err := yaml.UnmarshalStrict(doc, ns); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		s.Namespaces = append(s.Namespaces, ns)
		return nil
	default:
		s.Other = append(s.Other, Document{Source: where, APIVersion: tm.APIVersion, Kind: tm.Kind, Raw: doc})
		return nil
	}
}

func decodeInto[T any, PT interface {
	*T
	GetName() string
}](where string, doc []byte, into map[string]PT) error {
	obj := PT(new(T))
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if obj.GetName() == "" {
		return fmt.Errorf("%s: metadata.name is required", where)
	}
	if _, dup := into[obj.GetName()]; dup {
		return fmt.Errorf("%s: %s is defined twice", where, obj.GetName())
	}
	into[obj.GetName()] = obj
	return nil
}

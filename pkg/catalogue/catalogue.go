// Package catalogue reads netprofile's catalogue (NetworkProfiles, SharedResources, Baselines) and Namespaces
// from YAML files, for the offline CLI and the tests; in the cluster the manager reads the same objects from
// its cache.
package catalogue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/api/v1alpha1"
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
	Source string // file:line
	Kind   string
	Raw    []byte
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

// LoadPaths reads every .yaml, .yml and .json file under the paths (files or directories), in lexical order.
func LoadPaths(paths ...string) (*Set, error) {
	s := NewSet()
	for _, p := range paths {
		files, err := YAMLFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("failed to read %s: %w", f, err)
			}
			if err := s.Add(f, b); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// YAMLFiles expands a path into the YAML and JSON files below it, sorted; a file, or "-" (standard input),
// stands for itself.
func YAMLFiles(p string) ([]string, error) {
	if p == "-" {
		return []string{p}, nil
	}
	info, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", p, err)
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

// Add decodes the documents of one file into the set. Unknown fields are errors: a typo in a catalogue
// must not silently drop a rule.
func (s *Set) Add(source string, data []byte) error {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	line := 1
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", source, err)
		}
		where := fmt.Sprintf("%s:%d", source, line)
		line += bytes.Count(doc, []byte("\n")) + 1 // the reader drops the "---" separator line
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		if err := s.addDocument(where, doc); err != nil {
			return err
		}
	}
}

func (s *Set) addDocument(where string, doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if tm.Kind == "List" {
		var list struct {
			Items []any `json:"items"`
		}
		if err := yaml.Unmarshal(doc, &list); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		for _, item := range list.Items {
			b, err := yaml.Marshal(item)
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			if err := s.addDocument(where, b); err != nil {
				return err
			}
		}
		return nil
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
		s.Other = append(s.Other, Document{Source: where, Kind: tm.Kind, Raw: doc})
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

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

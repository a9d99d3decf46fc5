package desired

import (
	"fmt"
	"io/fs"

	"github.com/netprofile/netprofile/config/samples"
	"github.com/netprofile/netprofile/pkg/catalogue"
)

// DefaultCatalogue is the catalogue the chart ships (config/samples), compiled into the binary so that it is
// the default wherever the binary runs.
func DefaultCatalogue() (*catalogue.Set, error) {
	return LoadFS(samples.FS, "config/samples")
}

// LoadFS reads every YAML file of fsys into a catalogue set; prefix names the files in error messages.
func LoadFS(fsys fs.FS, prefix string) (*catalogue.Set, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("failed to list the catalogue: %w", err)
	}
	set := catalogue.NewSet()
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("failed to read %s/%s: %w", prefix, name, err)
		}
		if err := set.Add(prefix+"/"+name, b); err != nil {
			return nil, err
		}
	}
	return set, nil
}

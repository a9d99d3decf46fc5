// Package manifest reads Kubernetes objects from the files users hand to netprofile's plugin: YAML or JSON,
// several documents to a file, `kind: List` expanded into its items. Those files come from pull requests and
// pipes, so reading them is linear in their size and bounded: past a limit (Limits) the reader stops with an
// error that names the file and the limit, instead of working on a hostile file for minutes.
//
// Every command of the plugin and the catalogue loader read through a Reader, so the limits hold everywhere.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Limits bound what a Reader reads. A parsed YAML node takes about a hundred times the bytes it came from, so
// the file size bounds the memory; the other limits bound the shapes no manifest has and the work they cause.
type Limits struct {
	// FileBytes is the largest file (or standard input) read.
	FileBytes int64
	// Documents is the most YAML documents in one file.
	Documents int
	// Depth is the deepest nesting of mappings and sequences in a document.
	Depth int
	// ListDepth is how many Lists deep an object may sit: 1 reads the items of a List, not a List in a List.
	ListDepth int
	// Objects is the most objects a Reader returns over every file it reads, Lists counted with their items.
	Objects int
	// Nodes is the most YAML nodes in one file, counting the nodes an alias stands for each time a List item
	// is copied out of it.
	Nodes int
}

// DefaultLimits are far above any real manifest: the deepest CRD schema (Cilium's and netprofile's) nests 27
// levels, `kubectl get -o yaml` writes one List, and 16 MiB of YAML is a large Helm release.
var DefaultLimits = Limits{
	FileBytes: 16 << 20,
	Documents: 10_000,
	Depth:     128,
	ListDepth: 4,
	Objects:   100_000,
	Nodes:     1_000_000,
}

// LimitError is a file past one of the limits.
type LimitError struct {
	// Source is the file, with the line where the limit was crossed when there is one.
	Source string
	// What is the limit's own words, such as "more than 10000 YAML documents".
	What string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %s: refused, as no manifest is; split or fix the file", e.Source, e.What)
}

func limitError(source string, line int, format string, args ...any) *LimitError {
	if line > 0 {
		source = fmt.Sprintf("%s:%d", source, line)
	}
	return &LimitError{Source: source, What: fmt.Sprintf(format, args...)}
}

// Object is one object of a file: a whole document, or an item of a List.
type Object struct {
	File string
	// Line is where the object starts in File.
	Line             int
	APIVersion, Kind string
	// Node is the object's YAML tree, with lines counted from the top of File and without comments. It is nil
	// for an empty document.
	Node *yaml.Node
	// doc is the document as written, for an object that is a whole document.
	doc []byte
}

// Source is where the object is, as file:line.
func (o *Object) Source() string { return fmt.Sprintf("%s:%d", o.File, o.Line) }

// YAML is the object as YAML to decode into a type: the document as written, or the List item encoded on its
// own (its aliases already resolved).
func (o *Object) YAML() ([]byte, error) {
	if o.doc != nil {
		return o.doc, nil
	}
	b, err := yaml.Marshal(o.Node)
	if err != nil {
		return nil, fmt.Errorf("%s: failed to encode the List item: %w", o.Source(), err)
	}
	return b, nil
}

// Reader reads files within its limits; Objects counts over every file it reads.
type Reader struct {
	limits Limits
	count  int
}

// NewReader returns a reader with the limits.
func NewReader(l Limits) *Reader { return &Reader{limits: l} }

// ReadPaths reads every .yaml, .yml and .json file under the paths (see Files), in order; "-" is stdin.
func (r *Reader) ReadPaths(stdin io.Reader, paths ...string) ([]Object, error) {
	var out []Object
	for _, p := range paths {
		if p == "-" {
			objs, err := r.Read("<stdin>", stdin)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
			continue
		}
		files, err := Files(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			objs, err := r.ReadFile(f)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
	}
	return out, nil
}

// ReadFile reads one file.
func (r *Reader) ReadFile(path string) ([]Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", path, err)
	}
	defer f.Close()
	return r.Read(path, f)
}

// Read reads a stream; source names it in errors and in the objects.
func (r *Reader) Read(source string, in io.Reader) ([]Object, error) {
	data, err := ReadAll(source, in, r.limits.FileBytes)
	if err != nil {
		return nil, err
	}
	return r.Parse(source, data)
}

// ReadAll reads in to the end, or fails with a LimitError past max bytes without reading further.
func ReadAll(source string, in io.Reader, maxBytes int64) ([]byte, error) {
	data, err := io.ReadAll(LimitReader(source, in, maxBytes))
	if err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return nil, le
		}
		return nil, fmt.Errorf("failed to read %s: %w", source, err)
	}
	return data, nil
}

// LimitReader reads from in, and fails with a LimitError once more than maxBytes have come: for input read as
// a stream (Hubble's flows).
func LimitReader(source string, in io.Reader, maxBytes int64) io.Reader {
	return &limitReader{source: source, in: in, left: maxBytes + 1, maxBytes: maxBytes}
}

type limitReader struct {
	source         string
	in             io.Reader
	left, maxBytes int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, limitError(l.source, 0, "larger than %s, the most the plugin reads from one file", size(l.maxBytes))
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.in.Read(p)
	l.left -= int64(n)
	if l.left <= 0 {
		return n - 1, limitError(l.source, 0, "larger than %s, the most the plugin reads from one file", size(l.maxBytes))
	}
	return n, err
}

func size(b int64) string {
	switch {
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", b>>20)
	case b >= 1<<10 && b%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d bytes", b)
}

// Files expands a path into the YAML and JSON files below it, sorted; a file, or "-" (standard input), stands
// for itself.
func Files(p string) ([]string, error) {
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

// Parse reads the objects of a file's content.
func (r *Reader) Parse(source string, data []byte) ([]Object, error) {
	if int64(len(data)) > r.limits.FileBytes {
		return nil, limitError(source, 0, "larger than %s, the most the plugin reads from one file", size(r.limits.FileBytes))
	}
	// The parser builds the whole tree of a document before anything can count it, at up to a hundred times
	// the bytes it came from: bound the tree first, from the bytes.
	if n := estimateNodes(data); n > r.limits.Nodes {
		return nil, limitError(source, 0, "more than %d YAML nodes (counted from the lines, indicators and flow punctuation), the most the plugin reads from one file", r.limits.Nodes)
	}
	docs, err := split(data, r.limits.Documents)
	if err != nil {
		return nil, limitError(source, 0, "%s", err)
	}
	f := &file{Reader: r, source: source}
	var out []Object
	for _, d := range docs {
		var doc yaml.Node
		if err := yaml.Unmarshal(d.data, &doc); err != nil {
			return nil, fmt.Errorf("%s: %s", source, fileLines(err, d.line-1))
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if err := f.walk(root, d.line-1, 1); err != nil {
			return nil, err
		}
		if out, err = f.objects(out, root, d.data, 0, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// estimateNodes counts, in one pass over the bytes, at least about as many as the nodes a parser builds: a
// line holds one key and one value besides its indicators ("- ", ": ", "? "), and in flow style "[", "{" and ","
// start nodes. A long text counts as its lines, not its words.
func estimateNodes(data []byte) int {
	n := 1
	for i, b := range data {
		switch b {
		case '\n', '[', '{', ',':
			n++
		case '-', ':', '?':
			if i+1 == len(data) || data[i+1] == ' ' || data[i+1] == '\t' || data[i+1] == '\n' || data[i+1] == '\r' {
				n++
			}
		}
	}
	return n
}

// chunk is one document of a file and the line it starts on.
type chunk struct {
	line int
	data []byte
}

// split cuts a file into documents at "---" and "..." lines, in one pass. A "---" followed by content starts
// a document with that content (YAML allows `--- {a: 1}`).
func split(data []byte, maxDocs int) ([]chunk, error) {
	var out []chunk
	start, startLine, line := 0, 1, 1
	cut := func(end, next, nextLine int) error {
		if end > start {
			if len(out) == maxDocs {
				return fmt.Errorf("more than %d YAML documents, the most the plugin reads from one file", maxDocs)
			}
			out = append(out, chunk{line: startLine, data: data[start:end]})
		}
		start, startLine = next, nextLine
		return nil
	}
	for pos := 0; pos < len(data); line++ {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end >= 0 {
			next = pos + end + 1
		}
		l := data[pos:next]
		switch marker(l) {
		case "---":
			if err := cut(pos, next, line+1); err != nil {
				return nil, err
			}
		case "--- content":
			if err := cut(pos, pos, line); err != nil {
				return nil, err
			}
		case "...":
			if err := cut(pos, next, line+1); err != nil {
				return nil, err
			}
		}
		pos = next
	}
	if err := cut(len(data), len(data), line); err != nil {
		return nil, err
	}
	return out, nil
}

// marker says whether a line is a document marker: "---" or "..." alone (or with a comment), "--- content".
func marker(l []byte) string {
	for _, m := range []string{"---", "..."} {
		rest, ok := bytes.CutPrefix(l, []byte(m))
		if !ok {
			continue
		}
		if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '\r' && rest[0] != '\n' {
			return ""
		}
		if t := bytes.TrimSpace(rest); len(t) == 0 || t[0] == '#' {
			return m
		}
		if m == "---" {
			return "--- content"
		}
	}
	return ""
}

// file is the state of reading one file.
type file struct {
	*Reader
	source string
	nodes  int
	// aliased are the nodes with an alias under them: a List item among them is copied with its aliases
	// resolved, as it is encoded on its own.
	aliased map[*yaml.Node]bool
}

// walk counts the nodes of a document, checks its depth, moves its lines to the file's and drops comments and
// anchors (the encoder is at its least reliable with comments, and nothing reads either). An alias is not followed: each
// node is visited once.
func (f *file) walk(n *yaml.Node, offset, depth int) error {
	if f.nodes++; f.nodes > f.limits.Nodes {
		return limitError(f.source, n.Line+offset, "more than %d YAML nodes, the most the plugin reads from one file", f.limits.Nodes)
	}
	if depth > f.limits.Depth {
		return limitError(f.source, n.Line+offset, "nested deeper than %d levels, the most the plugin reads", f.limits.Depth)
	}
	n.Line += offset
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	// An item encoded on its own has its aliases resolved: the anchors are no use to it.
	n.Anchor = ""
	if n.Kind == yaml.AliasNode {
		f.markAliased(n)
		return nil
	}
	for _, c := range n.Content {
		if err := f.walk(c, offset, depth+1); err != nil {
			return err
		}
		if f.aliased[c] {
			f.markAliased(n)
		}
	}
	return nil
}

func (f *file) markAliased(n *yaml.Node) {
	if f.aliased == nil {
		f.aliased = map[*yaml.Node]bool{}
	}
	f.aliased[n] = true
}

// objects appends the object n is, or the items of the List n is. A List's items reached through an alias
// are copies, so that each use is counted.
func (f *file) objects(out []Object, n *yaml.Node, doc []byte, lists int, viaAlias bool) ([]Object, error) {
	if n.Kind == yaml.AliasNode {
		n, viaAlias = n.Alias, true
	}
	if f.count++; f.count > f.limits.Objects {
		return nil, limitError(f.source, n.Line, "more than %d objects (Lists and their items), the most the plugin reads at once", f.limits.Objects)
	}
	apiVersion, kind := scalar(n, "apiVersion"), scalar(n, "kind")
	if kind != "List" {
		obj := Object{File: f.source, Line: n.Line, APIVersion: apiVersion, Kind: kind, Node: n, doc: doc}
		if doc == nil && (viaAlias || f.aliased[n]) {
			c, err := f.copyResolved(n, 1)
			if err != nil {
				return nil, err
			}
			obj.Node = c
		}
		return append(out, obj), nil
	}
	if lists == f.limits.ListDepth {
		return nil, limitError(f.source, n.Line, "a kind: List nested in %d other Lists; the plugin reads Lists at most %d deep", lists, f.limits.ListDepth)
	}
	items := value(n, "items")
	if items != nil && items.Kind == yaml.AliasNode {
		items, viaAlias = items.Alias, true
	}
	switch {
	case items == nil || items.Tag == "!!null":
		return out, nil
	case items.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("%s:%d: the items of a List must be a list", f.source, items.Line)
	}
	var err error
	for _, item := range items.Content {
		if out, err = f.objects(out, item, nil, lists+1, viaAlias); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// copyResolved copies n with every alias replaced by a copy of what it stands for, counting the copied nodes
// against the file's limit: aliases must not multiply the work past it.
func (f *file) copyResolved(n *yaml.Node, depth int) (*yaml.Node, error) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if f.nodes++; f.nodes > f.limits.Nodes {
		return nil, limitError(f.source, n.Line, "more than %d YAML nodes with aliases expanded, the most the plugin reads from one file", f.limits.Nodes)
	}
	if depth > f.limits.Depth {
		return nil, limitError(f.source, n.Line, "nested deeper than %d levels with aliases expanded, the most the plugin reads", f.limits.Depth)
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		cc, err := f.copyResolved(child, depth+1)
		if err != nil {
			return nil, err
		}
		c.Content[i] = cc
	}
	return &c, nil
}

// yamlLine is how the parser names a line in its errors, counted from the top of the document it was given.
var yamlLine = regexp.MustCompile(`\bline (\d+)\b`)

// fileLines is a parser error with its lines counted from the top of the file.
func fileLines(err error, offset int) string {
	return yamlLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
		return "line " + strconv.Itoa(n+offset)
	})
}

// value is the value of key in a mapping node, or nil.
func value(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// scalar is the string value of key in a mapping node, or "".
func scalar(n *yaml.Node, key string) string {
	v := value(n, key)
	if v != nil && v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

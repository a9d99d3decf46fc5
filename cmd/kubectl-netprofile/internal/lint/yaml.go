package lint

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Node helpers over yaml.v3's tree, which keeps the line of every key and value; the typed Cilium structs
// would lose them.

// get returns the value of key in a mapping node, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
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

// keyNode returns the key node of key in a mapping node, or nil; findings about a key point at its line.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

// items returns the elements of a sequence node, or nil.
func items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// str returns the scalar value at key, or "".
func str(n *yaml.Node, key string) string {
	if v := get(n, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// isEmpty reports whether a node holds nothing: null, `[]` or `{}`.
func isEmpty(n *yaml.Node) bool {
	switch {
	case n == nil:
		return true
	case n.Kind == yaml.ScalarNode:
		return n.Tag == "!!null" || strings.TrimSpace(n.Value) == ""
	case n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode:
		return len(n.Content) == 0
	}
	return false
}

// isEmptySelector reports whether an endpoint selector selects everything: `{}`, or empty matchLabels and
// matchExpressions.
func isEmptySelector(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return isEmpty(n)
	}
	return isEmpty(get(n, "matchLabels")) && isEmpty(get(n, "matchExpressions"))
}

// line returns the line of the first node that is not nil.
func line(nodes ...*yaml.Node) int {
	for _, n := range nodes {
		if n != nil {
			return n.Line
		}
	}
	return 0
}

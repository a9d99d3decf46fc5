package diagnose

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Tally counts what a report leaves out, by a key such as a drop reason or a verdict. diagnose and replay
// count and print it the same way.
type Tally map[string]int

// Add counts one more of k.
func (t *Tally) Add(k string) {
	if *t == nil {
		*t = Tally{}
	}
	(*t)[k]++
}

// Total is the count over every key.
func (t Tally) Total() int {
	n := 0
	for _, v := range t {
		n += v
	}
	return n
}

// String is "key: count" for each key, sorted by key.
func (t Tally) String() string {
	parts := make([]string, 0, len(t))
	for _, k := range slices.Sorted(maps.Keys(t)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, t[k]))
	}
	return strings.Join(parts, ", ")
}

// Plural is n with the singular or the plural of a noun, as reports print counts.
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// plural is Plural for nouns whose plural takes an s.
func plural(n int, noun string) string { return Plural(n, noun, noun+"s") }

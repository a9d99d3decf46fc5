// Package terminal makes the strings the plugin prints safe for a terminal. Condition and Event messages,
// object and file names, label values and Hubble's flow fields are written by whoever may write those objects,
// files or pods; printed raw, an escape sequence among them clears the screen, moves the cursor to forge or hide
// lines, sets the window title or plants an OSC 8 link, and a newline starts a line of their own. The text
// outputs (tables, reports, findings, warnings and errors) pass every such string through Escape; the JSON,
// YAML and SARIF outputs carry them exactly, as their encoders escape what they must.
package terminal

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s with every character a terminal acts on written visibly as a Go escape: the C0 controls
// (newline and tab included: a field stays on its line), DEL, the C1 controls (U+0080 to U+009F, which some
// terminals take as CSI and OSC), Unicode format characters (bidirectional overrides reorder what is shown),
// line and paragraph separators, and bytes that are not UTF-8. Text without them is returned unchanged; the
// escaping is not reversible (a backslash is left as it is), as it is only for reading.
func Escape(s string) string { return escape(s, false) }

// Lines is text the plugin laid out itself around other strings, such as YAML it encoded: Fprintf escapes it
// as Escape does but keeps its newlines and tabs.
type Lines string

// Fprintf formats as fmt.Fprintf, with every string argument (string, Lines, []string, error, fmt.Stringer)
// escaped first: the format is the plugin's, the arguments may be anyone's.
func Fprintf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, escapeArgs(args)...)
}

// Sprintf is Fprintf into a string.
func Sprintf(format string, args ...any) string {
	return fmt.Sprintf(format, escapeArgs(args)...)
}

func escapeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = Escape(v)
		case Lines:
			out[i] = escape(string(v), true)
		case []string:
			e := make([]string, len(v))
			for j, s := range v {
				e[j] = Escape(s)
			}
			out[i] = e
		case error:
			out[i] = Escape(v.Error())
		case fmt.Stringer:
			out[i] = Escape(v.String())
		default:
			out[i] = a
		}
	}
	return out
}

// NewWriter returns a writer that escapes what goes through it as Escape does, except newlines and tabs: for
// whole outputs (stderr, text reports) whose layout the plugin writes, so that a string that missed Escape
// cannot reach the terminal as a control sequence either.
func NewWriter(w io.Writer) io.Writer { return &writer{w: w} }

type writer struct{ w io.Writer }

func (t *writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(t.w, escape(string(p), true)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func escape(s string, keepLayout bool) string {
	if safe(s, keepLayout) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepLayout && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r) && r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// safe reports whether s has nothing to escape, without allocating: most strings.
func safe(s string, keepLayout bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && !(keepLayout && (c == '\n' || c == '\t'))) || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafe(r) {
			return false
		}
		i += size
	}
	return true
}

// unsafe are the characters past ASCII a terminal acts on or that change what is shown.
func unsafe(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

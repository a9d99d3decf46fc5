package terminal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/terminal"
)

// Hostile is a string that, printed raw, clears the screen, plants an OSC 8 link, moves the cursor back, opens
// an 8-bit CSI, reverses the text and forges a line of its own.
const Hostile = "evil\x1b[2J\x1b]8;;https://evil.example/\x07click\x1b]8;;\x1b\\\r\b\u009b31m\u202e\nnetprofile: all policies valid"

func TestEscape(t *testing.T) {
	cases := map[string]struct{ in, want string }{
		"plain text is unchanged":            {in: `label a.b/c="d" -> 10.0.0.1:443 ✓ é 日本`, want: `label a.b/c="d" -> 10.0.0.1:443 ✓ é 日本`},
		"CSI, OSC 8, CR, backspace, C1, RLO": {in: Hostile, want: `evil\x1b[2J\x1b]8;;https://evil.example/\x07click\x1b]8;;\x1b\\r\x08\u009b31m\u202e\nnetprofile: all policies valid`},
		"tab and DEL":                        {in: "a\tb\x7f", want: `a\tb\x7f`},
		"bytes that are not UTF-8":           {in: "a\xffb\xe2\x80", want: `a\xffb\xe2\x80`},
		"line separator and a tag character": {in: "a\u2028b\U000E0041", want: `a\u2028b\U000e0041`},
		"U+FFFD itself is text":              {in: "a\uFFFDb", want: "a\uFFFDb"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := terminal.Escape(tc.in); got != tc.want {
				t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

type stringer struct{}

func (stringer) String() string { return "s\x1b" }

func TestFprintf(t *testing.T) {
	var b bytes.Buffer
	terminal.Fprintf(&b, "%s|%v|%s|%s|%d|%s\n", "a\nb", []string{"c\x1b", "d"}, errors.New("e\r"), stringer{}, 7, terminal.Lines("f\n\tg\x1b\n"))
	if want := "a\\nb|[c\\x1b d]|e\\r|s\\x1b|7|f\n\tg\\x1b\n\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w := terminal.NewWriter(&b)
	in := []byte("ok\n\tnext\x1b[2J\u009b\n")
	if n, err := w.Write(in); err != nil || n != len(in) {
		t.Fatalf("wrote %d, %v", n, err)
	}
	if want := "ok\n\tnext\\x1b[2J\\u009b\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

package textcut

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPrefixNeverSplitsACharacter(t *testing.T) {
	s := "aé€😀z" // 1, 2, 3 and 4 bytes per character
	cases := []struct {
		n    int
		want string
	}{
		{-1, ""}, {0, ""}, {1, "a"}, {2, "a"}, {3, "aé"}, {4, "aé"}, {5, "aé"},
		{6, "aé€"}, {9, "aé€"}, {10, "aé€😀"}, {11, s}, {100, s},
	}
	for _, c := range cases {
		if got := Prefix(s, c.n); got != c.want {
			t.Errorf("Prefix(%q, %d) = %q, want %q", s, c.n, got, c.want)
		}
	}
}

func TestTruncateMarksTheCutWithinTheBudget(t *testing.T) {
	cases := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 5, "short"},
		{"longer", 5, "lo…"},
		{"aé€😀z", 7, "aé…"},
		{"aé€😀z", 8, "aé…"},
		{"aé€😀z", 9, "aé€…"},
		{"abc", 2, "…"},
	}
	for _, c := range cases {
		got := Truncate(c.s, c.n)
		if got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
		if c.n >= len(Ellipsis) && len(got) > c.n {
			t.Errorf("Truncate(%q, %d) = %d bytes, over the budget", c.s, c.n, len(got))
		}
	}
}

// Whatever the input and budget, a cut leaves valid UTF-8 behind when the
// input was valid.
func TestCutsStayValid(t *testing.T) {
	s := strings.Repeat("ü€😀x", 50)
	for n := range len(s) + 2 {
		if p := Prefix(s, n); !utf8.ValidString(p) || len(p) > max(n, 0) || !strings.HasPrefix(s, p) {
			t.Fatalf("Prefix(_, %d) = %q: invalid, too long or not a prefix", n, p)
		}
		if tr := Truncate(s, n); !utf8.ValidString(tr) {
			t.Fatalf("Truncate(_, %d) = %q: invalid UTF-8", n, tr)
		}
	}
}

package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpExitsZero: asking for help is not a failure (issue 15: `manager
// --help` and `policy --help` exited 1 with an error line), and the
// manager's help says what the feed listeners serve.
func TestHelpExitsZero(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: put the Go toolchain on PATH to run this check")
	}
	bin := filepath.Join(t.TempDir(), "fedcommons")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"--help"}, {"manager", "--help"}, {"manager", "-h"}, {"policy", "--help"}, {"policy", "explain", "--help"}, {"policy", "diff", "-h"},
		{"policy", "review", "--help"}, {"policy", "fork", "--help"}, {"policy", "approve", "-h"}, {"policy", "reject", "-h"},
		{"community", "--help"}, {"community", "export", "-h"}, {"community", "import", "--help"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("fedcommons %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if strings.Contains(string(out), "flag: help requested") {
			t.Errorf("fedcommons %s prints an error line:\n%s", strings.Join(args, " "), out)
		}
		// The review verbs are listed where people look first (issue 17).
		if (len(args) == 1 || args[0] == "policy" && len(args) == 2) &&
			!(strings.Contains(string(out), "fedcommons policy review") && strings.Contains(string(out), "fedcommons policy approve")) {
			t.Errorf("fedcommons %s does not list the review verbs:\n%s", strings.Join(args, " "), out)
		}
		if args[0] == "policy" && len(args) == 2 && !strings.Contains(string(out), "fedcommons policy fork") {
			t.Errorf("fedcommons %s does not list fork:\n%s", strings.Join(args, " "), out)
		}
		if args[0] == "manager" && !strings.Contains(string(out), "/policies/NAMESPACE/NAME.csv") {
			t.Errorf("fedcommons %s does not document the feed paths:\n%s", strings.Join(args, " "), out)
		}
	}
	if err := exec.Command(bin, "manager", "--no-such-flag").Run(); err == nil {
		t.Error("a bad flag must still fail")
	}
}

package conformance

import "testing"

func hostedProfileCheck(t *testing.T, bin string) {
	t.Fatal("not written yet")
}

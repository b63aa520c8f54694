//go:build e2e

package crash

import "testing"

// TestCrashConsistencyLong is the long run of issue 14: 200 Instances of
// both kinds across 20 communities, the manager SIGKILLed 20 times.
// `make test-crash` runs it.
func TestCrashConsistencyLong(t *testing.T) {
	crashRun(t, 20, 10, 20)
}

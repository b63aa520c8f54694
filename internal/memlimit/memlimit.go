// Package memlimit gives the Go runtime a soft memory limit derived from
// the container's, so that a pod with a memory limit collects garbage
// harder as it nears the limit instead of being OOM-killed.
//
// Without it the runtime only knows GOGC: the heap may grow to twice the
// live data before a collection, whatever the container allows. With a
// limit (debug.SetMemoryLimit) the collector runs as often as needed to
// stay under it. An explicit GOMEMLIMIT always wins.
package memlimit

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Percent of the container's limit given to the Go runtime: the rest
// is for what the runtime does not count (the binary's text, thread
// stacks outside the heap, page-cache charged to the cgroup) and for the
// collector to catch up.
const Percent = 90

// cgroup files holding the container's memory limit: cgroup v2 first,
// then v1.
var cgroupFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// unlimitedV1 is above any real limit: cgroup v1 writes "no limit" as the
// largest page-aligned int64 (9223372036854771712).
const unlimitedV1 = int64(1) << 60

// FromCgroup returns the limit to set for the content of a cgroup memory
// limit file, or 0 when the file sets none ("max" in v2, a huge number
// in v1). The content is read from the kernel but still bounded: anything
// but a positive integer is an error.
func FromCgroup(content string) (int64, error) {
	s := strings.TrimSpace(content)
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("cgroup memory limit %q: not a positive integer", s)
	}
	if n >= unlimitedV1 {
		return 0, nil
	}
	return n / 100 * Percent, nil
}

// Set sets the runtime's memory limit from the first cgroup file present,
// unless GOMEMLIMIT is set. It returns the limit set (0: none) and why.
func Set() (int64, string) {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		return 0, "GOMEMLIMIT=" + v + " is set"
	}
	for _, f := range cgroupFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		limit, err := FromCgroup(string(b))
		if err != nil {
			return 0, err.Error()
		}
		if limit == 0 {
			return 0, f + " sets no limit"
		}
		debug.SetMemoryLimit(limit)
		return limit, fmt.Sprintf("%d%% of %s", Percent, f)
	}
	return 0, "no cgroup memory limit file"
}

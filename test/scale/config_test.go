//go:build scale

package scale

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// config is what one `make bench-scale` measures, read from the
// environment (the Makefile passes its variables through).
type config struct {
	// Sizes are the Instance counts to roll out, one fresh cluster each
	// (SCALE_SIZES, default 1000).
	Sizes []int
	// PerCommunity is how many Instances each community holds
	// (SCALE_PER_COMMUNITY, default 10): a size of 1000 is 100 communities.
	PerCommunity int
	// Runs is how many times each size is rolled out (SCALE_RUNS, default 3);
	// the report shows the median.
	Runs int
	// Steady is how long the steady state after convergence is watched
	// (SCALE_STEADY, default 5m), after Settle (SCALE_SETTLE, default 30s).
	Steady, Settle time.Duration
	// ReadyTimeout bounds the wait for every Instance Ready
	// (SCALE_READY_TIMEOUT, default 10m + 1s per Instance).
	ReadyTimeout time.Duration
	// ReportDir receives one JSON file per run (SCALE_REPORT_DIR, default
	// ./report under the package).
	ReportDir string
	// Workers is the operator's --workers (SCALE_WORKERS, default: the
	// operator's own default).
	Workers int
	// ManagerFlags are extra flags for the operator (SCALE_MANAGER_FLAGS,
	// space-separated), for before/after figures of a tuning.
	ManagerFlags []string
	// ManagerEnv are extra NAME=value variables for the operator's
	// process only (SCALE_MANAGER_ENV, space-separated), e.g. GOGC or
	// GOMEMLIMIT: set in make's environment they would reach the API
	// server and etcd too.
	ManagerEnv []string
	// Label names the variant in the report (SCALE_LABEL, default
	// "operator").
	Label string
}

// Bounds: a size beyond what a 2-core machine can hold only wastes hours.
const (
	maxSize         = 10000
	maxRuns         = 10
	maxPerCommunity = 100
)

func loadConfig() (config, error) {
	c := config{
		Sizes: []int{1000}, PerCommunity: 10, Runs: 3,
		Steady: 5 * time.Minute, Settle: 30 * time.Second,
		ReportDir: "report", Label: "operator",
	}
	var err error
	if v := os.Getenv("SCALE_SIZES"); v != "" {
		c.Sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, perr := strconv.Atoi(strings.TrimSpace(f))
			if perr != nil || n < 1 || n > maxSize {
				return c, fmt.Errorf("SCALE_SIZES: %q is not an Instance count between 1 and %d", f, maxSize)
			}
			c.Sizes = append(c.Sizes, n)
		}
	}
	if c.PerCommunity, err = envInt("SCALE_PER_COMMUNITY", c.PerCommunity, 1, maxPerCommunity); err != nil {
		return c, err
	}
	if c.Runs, err = envInt("SCALE_RUNS", c.Runs, 1, maxRuns); err != nil {
		return c, err
	}
	if c.Workers, err = envInt("SCALE_WORKERS", 0, 0, 256); err != nil {
		return c, err
	}
	for name, d := range map[string]*time.Duration{"SCALE_STEADY": &c.Steady, "SCALE_SETTLE": &c.Settle, "SCALE_READY_TIMEOUT": &c.ReadyTimeout} {
		if v := os.Getenv(name); v != "" {
			if *d, err = time.ParseDuration(v); err != nil || *d < 0 || *d > 2*time.Hour {
				return c, fmt.Errorf("%s: %q is not a duration up to 2h", name, v)
			}
		}
	}
	if v := os.Getenv("SCALE_REPORT_DIR"); v != "" {
		c.ReportDir = v
	}
	if c.ReportDir, err = filepath.Abs(c.ReportDir); err != nil {
		return c, err
	}
	c.ManagerFlags = strings.Fields(os.Getenv("SCALE_MANAGER_FLAGS"))
	c.ManagerEnv = strings.Fields(os.Getenv("SCALE_MANAGER_ENV"))
	for _, kv := range c.ManagerEnv {
		if !strings.Contains(kv, "=") {
			return c, fmt.Errorf("SCALE_MANAGER_ENV: %q is not NAME=value", kv)
		}
	}
	if v := os.Getenv("SCALE_LABEL"); v != "" {
		c.Label = v
	}
	return c, nil
}

func envInt(name string, def, lo, hi int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: %q is not a number between %d and %d", name, v, lo, hi)
	}
	return n, nil
}

// readyTimeout is the wait for every Instance Ready at a size.
func (c config) readyTimeout(instances int) time.Duration {
	if c.ReadyTimeout > 0 {
		return c.ReadyTimeout
	}
	return 10*time.Minute + time.Duration(instances)*time.Second
}

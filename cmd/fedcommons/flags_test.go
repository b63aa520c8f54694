package main

import (
	"strings"
	"testing"
)

func TestOutboundConfig(t *testing.T) {
	cfg, err := outboundConfig("10.20.0.0/16, 192.168.7.0/24", "10.96.0.0/12", "http://user:s3cret@proxy.coop.internal:3128")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Allow) != 2 || len(cfg.Deny) != 1 || cfg.Proxy == nil || cfg.Proxy.Host != "proxy.coop.internal:3128" {
		t.Fatalf("config %+v", cfg)
	}
	if cfg, err := outboundConfig("", "", ""); err != nil || cfg.Allow != nil || cfg.Deny != nil || cfg.Proxy != nil {
		t.Fatalf("defaults: %+v, %v; want nothing opened and no proxy", cfg, err)
	}
	for _, tc := range []struct{ allow, deny, proxy, want string }{
		{"10.0.0.0/33", "", "", "--outbound-allow-cidrs"},
		{"", "fd00::/129", "", "--outbound-deny-cidrs"},
		{"", "", "socks5://user:s3cret@proxy:1080", "--outbound-proxy"},
		{"", "", "proxy:3128", "--outbound-proxy"},
		{"", "", "http://user:s3cret@proxy:3128/path", "--outbound-proxy"},
	} {
		_, err := outboundConfig(tc.allow, tc.deny, tc.proxy)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("outboundConfig(%q, %q, %q) = %v, want an error naming %s", tc.allow, tc.deny, tc.proxy, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error echoes the proxy's password: %v", err)
		}
	}
}

// TestManagerFlags: the profiling endpoint is off unless asked for, and
// the manager's flags reach the operator's options.
func TestManagerFlags(t *testing.T) {
	opts, _, err := parseManagerFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.PprofAddr != "" {
		t.Errorf("pprof is on by default at %q; want it off", opts.PprofAddr)
	}
	if opts.MetricsAddr != ":8443" || !opts.SecureMetrics || !opts.LeaderElection {
		t.Errorf("defaults: %+v", opts)
	}
	opts, _, err = parseManagerFlags([]string{"--pprof-bind-address=127.0.0.1:6061", "--metrics-bind-address=0", "--instance-workers=8"})
	if err != nil {
		t.Fatal(err)
	}
	if opts.PprofAddr != "127.0.0.1:6061" || opts.MetricsAddr != "0" || opts.Controllers.InstanceWorkers != 8 {
		t.Errorf("parsed: pprof %q, metrics %q, instance workers %d", opts.PprofAddr, opts.MetricsAddr, opts.Controllers.InstanceWorkers)
	}
	if _, _, err := parseManagerFlags([]string{"--instance-workers=0"}); err == nil || !strings.Contains(err.Error(), "--instance-workers") {
		t.Errorf("--instance-workers=0: %v, want an error naming the flag", err)
	}
}

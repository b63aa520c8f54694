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

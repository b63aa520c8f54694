package main

import (
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/fedcommons/fedcommons/internal/outbound"
)

// parsePrefixes reads a comma-separated list of CIDR ranges (a flag value).
func parsePrefixes(flagName, s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flagName, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// outboundConfig reads the --outbound-* flags.
func outboundConfig(allowCIDRs, denyCIDRs, proxy string) (outbound.Config, error) {
	var cfg outbound.Config
	var err error
	if cfg.Allow, err = parsePrefixes("outbound-allow-cidrs", allowCIDRs); err != nil {
		return cfg, err
	}
	if cfg.Deny, err = parsePrefixes("outbound-deny-cidrs", denyCIDRs); err != nil {
		return cfg, err
	}
	if proxy = strings.TrimSpace(proxy); proxy != "" {
		// The value may hold the proxy's credentials: never echoed.
		u, err := url.Parse(proxy)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return cfg, fmt.Errorf("--outbound-proxy: want http(s)://[user:password@]host:port")
		}
		cfg.Proxy = u
	}
	// Refuse now what the stack would refuse at the first call.
	if _, err := outbound.New(cfg); err != nil {
		return cfg, fmt.Errorf("--outbound-proxy: %w", err)
	}
	return cfg, nil
}

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// parseInterspersed parses flags wherever they appear among the arguments
// ("explain -f p.yaml a.example --notes=false b.example"), as users of
// kubectl expect, and returns the positional arguments in order. A "--"
// ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if len(args) > 0 && args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

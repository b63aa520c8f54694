package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dial resolves the host itself and connects only to addresses the guard
// allows, by IP, so that the address checked is the address used.
// trusted maps the trusted host:port of this transport to the name to
// resolve for it.
func (s *Stack) dial(ctx context.Context, network, address string, trusted map[string]string) (net.Conn, error) {
	if s.proxyAddr != "" && strings.EqualFold(address, s.proxyAddr) {
		// The operator's proxy, named by flag: dialled as given.
		d := &net.Dialer{Timeout: s.cfg.DialTimeout}
		return d.DialContext(ctx, network, address)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", portStr)
	}
	resolve, isTrusted := trusted[strings.ToLower(address)]
	ipnet := "ip"
	switch network {
	case "tcp4":
		ipnet = "ip4"
	case "tcp6":
		ipnet = "ip6"
	}
	addrs, err := s.lookup(ctx, ipnet, host, resolve)
	if err != nil {
		return nil, err
	}
	// One refused address refuses the host: a public name has no business
	// resolving to a private address, and connecting to "the other one"
	// would make the outcome depend on ordering an attacker controls.
	for _, a := range addrs {
		if why := s.guard.refusal(a, isTrusted); why != "" {
			return nil, &RefusedError{Host: host, Addr: a, Why: why}
		}
	}
	d := &net.Dialer{
		Timeout:   s.cfg.DialTimeout,
		KeepAlive: 30 * time.Second,
		// Second line of defence: whatever path leads to a dial, the
		// address the socket is about to connect to is checked again.
		Control: func(_, address string, _ syscall.RawConn) error { return s.control(address, isTrusted) },
	}
	var lastErr error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		var refused *RefusedError
		if errors.As(err, &refused) {
			refused.Host = host
			return nil, refused
		}
		lastErr = err
	}
	return nil, lastErr
}

// lookup returns host's addresses: host itself when it is one, else what
// the resolver says for resolve (as an absolute name) or for host.
func (s *Stack) lookup(ctx context.Context, ipnet, host, resolve string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	name := host
	if resolve != "" {
		name = resolve + "."
	}
	addrs, err := s.cfg.Resolver.LookupNetIP(ctx, ipnet, name)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("cannot resolve %s: no addresses", host)
	}
	return addrs, nil
}

// control is the net.Dialer's last look at the socket address.
func (s *Stack) control(address string, trusted bool) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Why: fmt.Sprintf("cannot check the address %q", address)}
	}
	if why := s.guard.refusal(ap.Addr(), trusted); why != "" {
		return &RefusedError{Addr: ap.Addr(), Why: why}
	}
	return nil
}

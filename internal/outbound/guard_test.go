package outbound

import (
	"errors"
	"net/netip"
	"testing"
)

func TestRefusalTable(t *testing.T) {
	g := guard{}
	for _, a := range []string{
		"127.0.0.1", "127.9.9.9", "10.255.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1",
		"169.254.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0", "0.1.2.3",
		"224.0.0.251", "255.255.255.255", "240.0.0.1", "::", "::1", "fc00::1", "fd00::1",
		"fe80::1", "ff02::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
		"64:ff9b::7f00:1", "2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "fd00:ec2::254",
		"::127.0.0.1",
	} {
		if g.refusal(netip.MustParseAddr(a), false) == "" {
			t.Errorf("%s allowed", a)
		}
	}
	for _, a := range []string{"93.184.215.14", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::5db8:d70e", "2001:4860:4860::8888"} {
		if why := g.refusal(netip.MustParseAddr(a), false); why != "" {
			t.Errorf("%s refused: %s", a, why)
		}
	}
	// Unspecified and multicast stay refused even under a blanket Allow.
	all := guard{allow: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}}
	for _, a := range []string{"0.0.0.0", "::", "224.0.0.1", "ff02::1"} {
		if all.refusal(netip.MustParseAddr(a), false) == "" {
			t.Errorf("%s allowed under a blanket Allow", a)
		}
	}
	if all.refusal(netip.MustParseAddr("10.0.0.1"), false) != "" {
		t.Error("a blanket Allow did not allow 10.0.0.1")
	}
	// Deny beats Allow.
	both := guard{allow: all.allow, deny: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}}
	if why := both.refusal(netip.MustParseAddr("10.96.0.10"), false); why != "in a range the operator denies (10.96.0.0/12)" {
		t.Errorf("Deny under a blanket Allow: %q", why)
	}
}

// A trusted origin (a hosted Instance's own Service) may be anywhere a
// Service can be, and nowhere else; the operator's ranges are about
// tenant-named destinations and do not apply to it.
func TestRefusalTrusted(t *testing.T) {
	g := guard{deny: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}}
	for _, a := range []string{"10.96.0.10", "172.20.1.1", "192.168.1.1", "100.64.0.9", "127.0.0.2", "fd00::5", "93.184.215.14"} {
		if why := g.refusal(netip.MustParseAddr(a), true); why != "" {
			t.Errorf("trusted %s refused: %s", a, why)
		}
	}
	for a, want := range map[string]string{
		"169.254.169.254":        "the cloud metadata address",
		"::ffff:169.254.169.254": "the cloud metadata address",
		"169.254.10.1":           "a link-local address",
		"fe80::1":                "a link-local address",
		"fd00:ec2::254":          "the cloud metadata address",
		"0.0.0.0":                "the unspecified address",
		"224.0.0.1":              "a multicast address",
		"64:ff9b::a9fe:a9fe":     "an IPv6 form of 169.254.169.254, the cloud metadata address",
	} {
		if why := g.refusal(netip.MustParseAddr(a), true); why != want {
			t.Errorf("trusted %s: %q, want %q", a, why, want)
		}
	}
}

func TestDialControlRechecks(t *testing.T) {
	// The dialer's Control func is the second line: it sees the socket
	// address whatever resolved it.
	s, err := New(Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	var re *RefusedError
	if err := s.control("10.0.0.1:443", false); !errors.As(err, &re) {
		t.Fatalf("control let 10.0.0.1 through: %v", err)
	}
	if err := s.control("[::1]:443", false); !errors.As(err, &re) {
		t.Fatalf("control let ::1 through: %v", err)
	}
	if err := s.control("[::ffff:10.0.0.1]:443", false); !errors.As(err, &re) {
		t.Fatalf("control let an IPv4-mapped 10.0.0.1 through: %v", err)
	}
	if err := s.control("127.0.0.1:443", false); err != nil {
		t.Fatalf("control refused the allowed loopback: %v", err)
	}
	if err := s.control("93.184.215.14:443", false); err != nil {
		t.Fatalf("control refused a public address: %v", err)
	}
	if err := s.control("169.254.169.254:80", true); !errors.As(err, &re) {
		t.Fatalf("control let a trusted dial reach the metadata address: %v", err)
	}
}

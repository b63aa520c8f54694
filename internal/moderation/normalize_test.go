package moderation

import (
	"errors"
	"testing"
)

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in       string
		want     string
		wildcard bool
		err      error
	}{
		{in: "example.com", want: "example.com"},
		{in: "  Example.COM.  ", want: "example.com"},
		{in: "*.example.com", want: "example.com", wildcard: true},
		{in: "bücher.example", want: "xn--bcher-kva.example"},
		{in: "BÜCHER.example", want: "xn--bcher-kva.example"},
		{in: "xn--bcher-kva.example", want: "xn--bcher-kva.example"},
		{in: "sub.bücher.example.", want: "sub.xn--bcher-kva.example"},
		{in: "com", want: "com"},
		{in: "ab--cd.example", want: "ab--cd.example"},
		{in: "ex*mple.com", err: ErrObfuscated},
		{in: "ati**.***ss", err: ErrObfuscated},
		{in: "*.ex*mple.com", err: ErrObfuscated},
		{in: "", err: ErrEmptyDomain},
		{in: "   ", err: ErrEmptyDomain},
		{in: "*.", err: ErrEmptyDomain},
		{in: "https://example.com/", err: ErrInvalidDomain},
		{in: "example.com:443", err: ErrInvalidDomain},
		{in: "two words.example", err: ErrInvalidDomain},
		{in: "a..example", err: ErrInvalidDomain},
		{in: "-lead.example", err: ErrInvalidDomain},
		{in: "trail-.example", err: ErrInvalidDomain},
		{in: "xn--zz.example", err: ErrInvalidDomain},
		{in: string(make([]byte, 64)) + ".example", err: ErrInvalidDomain},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, wildcard, err := NormalizeDomain(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("NormalizeDomain(%q) error = %v, want %v", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeDomain(%q) error = %v", tt.in, err)
			}
			if got != tt.want || wildcard != tt.wildcard {
				t.Fatalf("NormalizeDomain(%q) = %q, %v; want %q, %v", tt.in, got, wildcard, tt.want, tt.wildcard)
			}
		})
	}
}

func TestRefusePublicSuffix(t *testing.T) {
	tests := []struct {
		domain string
		refuse bool
	}{
		{"com", true},
		{"co.uk", true},
		{"city.kawasaki.jp", false}, // an exception rule in the list: a real registrable name
		{"foo.kawasaki.jp", true},   // under the wildcard rule *.kawasaki.jp
		{"localhost", true},         // single label: no server
		{"example.co.uk", false},
		{"spam.example", false},
		// Private suffixes stay blockable: real feeds block these on purpose.
		{"workers.dev", false},
		{"trycloudflare.com", false},
		{"github.io", false},
	}
	for _, tt := range tests {
		if got := RefusePublicSuffix(tt.domain) != ""; got != tt.refuse {
			t.Errorf("RefusePublicSuffix(%q) refuses = %v, want %v", tt.domain, got, tt.refuse)
		}
	}
}

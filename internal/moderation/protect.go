package moderation

import (
	"errors"
	"fmt"
)

// protection answers "may this domain be blocked?" for our own instances,
// exceptions and locally allowed domains, including their parents, in one
// map lookup per domain.
type protection struct {
	// refused maps a domain to the reason blocks on it are refused.
	refused map[string]string
	// allowed maps a parent of a locally allowed domain to that domain.
	allowed map[string]string
	// lengths has bit n set when a key of either map is n bytes long:
	// nearly every domain of a merge is answered by one bit test instead
	// of hashing it.
	lengths [256 / 64]uint64
}

func (g *protection) mayHold(domain string) bool {
	n := len(domain)
	return n < 256 && g.lengths[n/64]&(1<<(n%64)) != 0
}

func (g *protection) noteLength(domain string) {
	if n := len(domain); n < 256 {
		g.lengths[n/64] |= 1 << (n % 64)
	}
}

func newProtection(protected, exceptions []string) (protection, error) {
	g := protection{refused: map[string]string{}, allowed: map[string]string{}}
	var errs []error
	add := func(list []string, what string) {
		for _, raw := range list {
			d, _, err := NormalizeDomain(raw)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %q: %w", what, raw, err))
				continue
			}
			if _, ok := g.refused[d]; !ok || what == "our instance" {
				g.refused[d] = what + " " + d
			}
			g.noteLength(d)
			parentDomains(d, func(parent string) bool {
				g.noteLength(parent)
				if _, ok := g.refused[parent]; !ok {
					g.refused[parent] = "parent of " + what + " " + d + ": a block would cover it"
				}
				return true
			})
		}
	}
	add(protected, "our instance")
	add(exceptions, "exception")
	return g, errors.Join(errs...)
}

func (g *protection) addAllowed(domain string) {
	parentDomains(domain, func(parent string) bool {
		g.noteLength(parent)
		if _, ok := g.allowed[parent]; !ok {
			g.allowed[parent] = domain
		}
		return true
	})
}

func (g *protection) refuse(domain string) string {
	if len(g.refused) == 0 || !g.mayHold(domain) {
		return ""
	}
	return g.refused[domain]
}

func (g *protection) allowedChild(domain string) string {
	if len(g.allowed) == 0 || !g.mayHold(domain) {
		return ""
	}
	return g.allowed[domain]
}

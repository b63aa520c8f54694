package software

import (
	"crypto/ecdh"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"sort"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// SecretGenerator generates one or more keys of a generated Secret.
type SecretGenerator struct {
	// Keys it generates.
	Keys []string
	// Since and Before bound the versions needing the keys: Since is the
	// first series (major, minor) needing them, Before the first one that no
	// longer does. Zero values are unbounded.
	Since, Before *[2]int
	// Generate reads randomness from r and returns a value per key.
	Generate func(r io.Reader) (map[string]string, error)
}

func (g SecretGenerator) appliesTo(v Version) bool {
	if g.Since != nil && !v.AtLeast(g.Since[0], g.Since[1]) {
		return false
	}
	if g.Before != nil && v.AtLeast(g.Before[0], g.Before[1]) {
		return false
	}
	return true
}

func generatorKeys(gens []SecretGenerator, v Version) []string {
	var keys []string
	for _, g := range gens {
		if g.appliesTo(v) {
			keys = append(keys, g.Keys...)
		}
	}
	sort.Strings(keys)
	return keys
}

// runGenerators runs the generators in their declared order, so a given
// random stream always yields the same values.
func runGenerators(gens []SecretGenerator, v Version, r io.Reader) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, g := range gens {
		if !g.appliesTo(v) {
			continue
		}
		values, err := g.Generate(r)
		if err != nil {
			return nil, fmt.Errorf("generating %v: %w", g.Keys, err)
		}
		for _, k := range g.Keys {
			val, ok := values[k]
			if !ok {
				return nil, fmt.Errorf("generator for %v did not produce %s", g.Keys, k)
			}
			out[k] = []byte(val)
		}
	}
	return out, nil
}

// HexSecret generates key as n random bytes in lower-case hex (2n characters).
func HexSecret(key string, n int) SecretGenerator {
	return SecretGenerator{Keys: []string{key}, Generate: func(r io.Reader) (map[string]string, error) {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return map[string]string{key: hex.EncodeToString(b)}, nil
	}}
}

const alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// AlphanumericSecret generates key as n random letters and digits, the
// shape Rails' `db:encryption:init` produces and the shape that survives
// any shell, URL or config file unquoted (database passwords).
func AlphanumericSecret(key string, n int) SecretGenerator {
	return SecretGenerator{Keys: []string{key}, Generate: func(r io.Reader) (map[string]string, error) {
		s, err := RandomAlphanumeric(r, n)
		if err != nil {
			return nil, err
		}
		return map[string]string{key: s}, nil
	}}
}

// RandomAlphanumeric reads n unbiased letters and digits from r.
func RandomAlphanumeric(r io.Reader, n int) (string, error) {
	// Rejection sampling: bytes >= 248 (4*62) would bias the modulo.
	const limit = 256 - 256%len(alphanumerics)
	out := make([]byte, 0, n)
	buf := make([]byte, 1)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		if int(buf[0]) >= limit {
			continue
		}
		out = append(out, alphanumerics[int(buf[0])%len(alphanumerics)])
	}
	return string(out), nil
}

// URLSafeTokenSecret generates key as n random bytes in unpadded URL-safe
// base64, the shape of an OAuth bearer token.
func URLSafeTokenSecret(key string, n int) SecretGenerator {
	return SecretGenerator{Keys: []string{key}, Generate: func(r io.Reader) (map[string]string, error) {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return map[string]string{key: base64.RawURLEncoding.EncodeToString(b)}, nil
	}}
}

// VAPIDKeyPair generates a Web Push (VAPID) key pair on P-256 the way
// Mastodon's webpush gem encodes it (Webpush::VapidKey, checked in webpush
// 1.1.0): the private key is the 32-byte scalar and the public key the
// 65-byte uncompressed point, both in padded URL-safe base64.
//
// The scalar is read from r directly rather than through
// ecdsa.GenerateKey, which since Go 1.26 ignores its reader; reading it
// ourselves keeps generation deterministic in tests.
func VAPIDKeyPair(privateKey, publicKey string) SecretGenerator {
	return SecretGenerator{Keys: []string{privateKey, publicKey}, Generate: func(r io.Reader) (map[string]string, error) {
		scalar := make([]byte, 32)
		for {
			if _, err := io.ReadFull(r, scalar); err != nil {
				return nil, err
			}
			// NewPrivateKey refuses zero and scalars not below the group
			// order; drawing again keeps the distribution uniform.
			key, err := ecdh.P256().NewPrivateKey(scalar)
			if err != nil {
				continue
			}
			return map[string]string{
				privateKey: base64.URLEncoding.EncodeToString(scalar),
				publicKey:  base64.URLEncoding.EncodeToString(key.PublicKey().Bytes()),
			}, nil
		}
	}}
}

func intOrName(port string) intstr.IntOrString { return intstr.FromString(port) }

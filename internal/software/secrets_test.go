package software

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func seeded(seed byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{seed}) }

func TestMastodonSecretKeys(t *testing.T) {
	common := "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY,ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT,ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY,"
	tests := []struct{ version, want string }{
		{"4.3.8", common + "OTP_SECRET,SECRET_KEY_BASE,VAPID_PRIVATE_KEY,VAPID_PUBLIC_KEY"},
		{"4.4.0", common + "SECRET_KEY_BASE,VAPID_PRIVATE_KEY,VAPID_PUBLIC_KEY"},
		{"4.5.2", common + "SECRET_KEY_BASE,VAPID_PRIVATE_KEY,VAPID_PUBLIC_KEY"},
	}
	for _, tt := range tests {
		if got := strings.Join(Mastodon.SecretKeys(mustVersion(t, tt.version)), ","); got != tt.want {
			t.Errorf("%s keys = %s\nwant %s", tt.version, got, tt.want)
		}
	}
	if keys := GoToSocial.SecretKeys(mustVersion(t, "0.20.1")); len(keys) != 0 {
		t.Errorf("gotosocial generates %v, want nothing", keys)
	}
}

func TestGenerateSecretsDeterministic(t *testing.T) {
	v := mustVersion(t, "4.3.8")
	a, err := Mastodon.GenerateSecrets(v, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Mastodon.GenerateSecrets(v, seeded(1))
	c, _ := Mastodon.GenerateSecrets(v, seeded(2))
	for k := range a {
		if !bytes.Equal(a[k], b[k]) {
			t.Errorf("%s differs for the same random stream", k)
		}
		if bytes.Equal(a[k], c[k]) {
			t.Errorf("%s is the same for different random streams", k)
		}
	}
	if len(a) != len(Mastodon.SecretKeys(v)) {
		t.Errorf("generated %d keys, want %d", len(a), len(Mastodon.SecretKeys(v)))
	}

	hex128 := regexp.MustCompile(`^[0-9a-f]{128}$`)
	for _, k := range []string{"SECRET_KEY_BASE", "OTP_SECRET"} {
		if !hex128.Match(a[k]) {
			t.Errorf("%s = %q, want 128 hex characters", k, a[k])
		}
	}
	alnum32 := regexp.MustCompile(`^[A-Za-z0-9]{32}$`)
	for _, k := range []string{"ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY", "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT", "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY"} {
		if !alnum32.Match(a[k]) {
			t.Errorf("%s = %q, want 32 letters and digits", k, a[k])
		}
	}
	if string(a["ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY"]) == string(a["ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY"]) {
		t.Error("encryption keys must differ")
	}
}

// TestVAPIDKeyPair parses the pair back the way webpush does: the private
// key is a P-256 scalar whose public point is the public key.
func TestVAPIDKeyPair(t *testing.T) {
	for seed := byte(0); seed < 20; seed++ {
		vals, err := VAPIDKeyPair("priv", "pub").Generate(seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		priv, err := base64.URLEncoding.DecodeString(vals["priv"])
		if err != nil || len(priv) != 32 {
			t.Fatalf("private key %q: %v (%d bytes), want 32 bytes of URL-safe base64", vals["priv"], err, len(priv))
		}
		pub, err := base64.URLEncoding.DecodeString(vals["pub"])
		if err != nil || len(pub) != 65 || pub[0] != 4 {
			t.Fatalf("public key %q: %v, want a 65-byte uncompressed point", vals["pub"], err)
		}
		key, err := ecdh.P256().NewPrivateKey(priv)
		if err != nil {
			t.Fatalf("private key is not a P-256 scalar: %v", err)
		}
		if _, err := ecdh.P256().NewPublicKey(pub); err != nil {
			t.Fatalf("public key is not on P-256: %v", err)
		}
		if !bytes.Equal(key.PublicKey().Bytes(), pub) {
			t.Fatal("public key does not belong to the private key")
		}
		if strings.ContainsAny(vals["priv"]+vals["pub"], "+/") {
			t.Error("keys must be URL-safe base64")
		}
	}
}

// A scalar above the group order must be drawn again, not reduced or used.
func TestVAPIDRejectsOutOfRangeScalar(t *testing.T) {
	stream := append(bytes.Repeat([]byte{0xff}, 32), bytes.Repeat([]byte{0x01}, 32)...)
	vals, err := VAPIDKeyPair("priv", "pub").Generate(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := vals["priv"], base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0x01}, 32)); got != want {
		t.Errorf("private key = %s, want the second draw %s", got, want)
	}
}

func TestRandomAlphanumericUnbiased(t *testing.T) {
	// Bytes at or above 248 are skipped rather than wrapped onto 'A'..'Z'.
	s, err := RandomAlphanumeric(bytes.NewReader([]byte{255, 248, 0, 61, 62}), 3)
	if err != nil {
		t.Fatal(err)
	}
	if s != "A9A" {
		t.Errorf("got %q, want A9A", s)
	}
}

func TestHexAndTokenSecrets(t *testing.T) {
	h, _ := HexSecret("k", 4).Generate(bytes.NewReader([]byte{0xde, 0xad, 0xbe, 0xef}))
	if h["k"] != "deadbeef" {
		t.Errorf("hex = %s", h["k"])
	}
	tok, _ := URLSafeTokenSecret("token", 32).Generate(seeded(3))
	raw, err := base64.RawURLEncoding.DecodeString(tok["token"])
	if err != nil || len(raw) != 32 || len(tok["token"]) != 43 {
		t.Errorf("token %q: %v", tok["token"], err)
	}
}

func TestAdminSecrets(t *testing.T) {
	gts, err := runGenerators(GoToSocial.Admin.Secrets, mustVersion(t, "0.20.1"), seeded(4))
	if err != nil || len(gts["password"]) != 32 {
		t.Errorf("gotosocial admin password = %q, %v", gts["password"], err)
	}
	m, err := runGenerators(Mastodon.Admin.Secrets, mustVersion(t, "4.5.2"), seeded(4))
	if err != nil || len(m["token"]) != 43 {
		t.Errorf("mastodon admin token = %q, %v", m["token"], err)
	}
	if Mastodon.Admin.TokenKey != "token" || GoToSocial.Admin.PasswordKey != "password" || !GoToSocial.Admin.RestartAfter {
		t.Error("admin keys: mastodon token, gotosocial password + restart")
	}
}

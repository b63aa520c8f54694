package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Names of the archive's entries.
const (
	manifestFile  = "manifest.yaml"
	communityFile = "community.yaml"
	secretsFile   = "secrets.age"
	instancesDir  = "instances/"
	policiesDir   = "policies/"
)

// ErrNoRecipient is Write's refusal to run without a public key to encrypt
// the secrets to.
var ErrNoRecipient = errors.New("no recipient: the bundle carries the community's generated keys and passwords, which are only ever written encrypted; give the new host's age public key with --recipient age1...")

// ParseRecipient reads one age public key (age1... or age1pq1...).
func ParseRecipient(s string) (age.Recipient, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "AGE-SECRET-KEY") {
		// Never echo it: it is a private key.
		return nil, errors.New("--recipient was given a private key (AGE-SECRET-KEY-...): give the public key, the age1... line that age-keygen prints as \"Public key\"")
	}
	rs, err := age.ParseRecipients(strings.NewReader(s))
	if err != nil || len(rs) != 1 {
		return nil, fmt.Errorf("--recipient %q is not an age public key (want age1... as printed by age-keygen)", s)
	}
	return rs[0], nil
}

// entry is one file of the archive: an object written as YAML, or raw bytes.
type entry struct {
	name string
	obj  any
	raw  []byte
}

// secretList is secrets.age's plaintext.
type secretList struct {
	Items []corev1.Secret `json:"items"`
}

// Write writes b as a bundle to w, its Secrets encrypted to recipients.
// The manifest must name exactly the objects b holds.
func Write(w io.Writer, b *Bundle, recipients []age.Recipient) error {
	if len(recipients) == 0 {
		return ErrNoRecipient
	}
	b.Manifest.FormatVersion = FormatVersion
	if err := b.check(); err != nil {
		return fmt.Errorf("inconsistent bundle (a bug): %w", err)
	}
	sealed, err := seal(b.Secrets, recipients)
	if err != nil {
		return err
	}
	// The manifest goes first: Read learns from it what else to expect.
	entries := []entry{{name: manifestFile, obj: b.Manifest}, {name: communityFile, obj: b.Community}}
	for i := range b.Instances {
		entries = append(entries, entry{name: instancesDir + b.Instances[i].Name + ".yaml", obj: &b.Instances[i]})
	}
	for i := range b.Policies {
		entries = append(entries, entry{name: policiesDir + b.Policies[i].Name + ".yaml", obj: &b.Policies[i]})
	}
	entries = append(entries, entry{name: secretsFile, raw: sealed})

	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		data := e.raw
		if e.obj != nil {
			if data, err = yaml.Marshal(e.obj); err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
		}
		hdr := &tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(data)), ModTime: b.Manifest.CreatedAt, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// seal encrypts the Secrets to the recipients. The plaintext exists only
// in memory.
func seal(secrets []corev1.Secret, recipients []age.Recipient) ([]byte, error) {
	plain, err := yaml.Marshal(secretList{Items: secrets})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc, err := age.Encrypt(&out, recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypt the secrets: %w", err)
	}
	if _, err := enc.Write(plain); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	clear(plain)
	return out.Bytes(), nil
}

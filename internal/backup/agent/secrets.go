package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"
)

// Bounds on the Secrets put into, and read out of, a backup: an Instance
// has a handful of generated Secrets of a few keys each.
const (
	maxSecrets      = 16
	maxSecretKeys   = 64
	maxSecretsBytes = 1 << 20
	maxRecipients   = 16
)

// Secrets is the content of secrets.age once decrypted: each Secret's name
// and data.
type Secrets map[string]map[string][]byte

// EncryptSecrets encrypts s to every recipient (age X25519 public keys,
// age1...): any one of their identities decrypts it.
func EncryptSecrets(s Secrets, recipients []string) ([]byte, error) {
	if len(recipients) == 0 || len(recipients) > maxRecipients {
		return nil, fmt.Errorf("the generated Secrets need 1 to %d age recipients to be encrypted to, not %d", maxRecipients, len(recipients))
	}
	var rs []age.Recipient
	for _, r := range recipients {
		x, err := age.ParseX25519Recipient(strings.TrimSpace(r))
		if err != nil {
			return nil, fmt.Errorf("%q is not an age public key such as age1...: %v", r, err)
		}
		rs = append(rs, x)
	}
	plain, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	w, err := age.Encrypt(&out, rs...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// DecryptSecrets decrypts secrets.age with identity (an age secret key,
// AGE-SECRET-KEY-1...). source names where the identity came from, for the
// message when it is not one the Secrets were encrypted to.
func DecryptSecrets(data []byte, identity, source string) (Secrets, error) {
	id, err := age.ParseX25519Identity(strings.TrimSpace(identity))
	if err != nil {
		return nil, fmt.Errorf("%s does not hold an age identity (AGE-SECRET-KEY-1...): %v", source, err)
	}
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return nil, fmt.Errorf("the backup's secrets were not encrypted to the key in %s (its public key is %s): give the identity of one of the recipients the backup was taken with", source, id.Recipient())
		}
		return nil, fmt.Errorf("the backup's secrets cannot be decrypted: %v", err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxSecretsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("the backup's secrets cannot be decrypted (damaged?): %v", err)
	}
	if len(plain) > maxSecretsBytes {
		return nil, fmt.Errorf("the backup's secrets are larger than %d bytes", maxSecretsBytes)
	}
	var s Secrets
	if err := json.Unmarshal(plain, &s); err != nil {
		return nil, fmt.Errorf("the backup's secrets are not what the agent writes: %v", err)
	}
	if len(s) > maxSecrets {
		return nil, fmt.Errorf("the backup holds %d Secrets, more than %d", len(s), maxSecrets)
	}
	return s, nil
}

// ReadSecretsDir reads Secrets mounted as volumes under dir, one directory
// per Secret named after it, one file per key (as Kubernetes mounts a
// Secret). Kubernetes' own entries (..data and the timestamped directory it
// points to) are skipped; the keys are the symlinks to them.
func ReadSecretsDir(dir string) (Secrets, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	s := Secrets{}
	total := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			continue
		}
		keys, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		data := map[string][]byte{}
		for _, k := range keys {
			if strings.HasPrefix(k.Name(), ".") {
				continue
			}
			if len(data) == maxSecretKeys {
				return nil, fmt.Errorf("secret %s has more than %d keys", e.Name(), maxSecretKeys)
			}
			b, err := readBounded(filepath.Join(dir, e.Name(), k.Name()), int64(maxSecretsBytes-total))
			if err != nil {
				return nil, fmt.Errorf("reading secret %s: %v", e.Name(), err)
			}
			total += len(b)
			data[k.Name()] = b
		}
		// An optional Secret that does not exist is mounted as an empty
		// directory: it is not in the backup.
		if len(data) > 0 {
			if len(s) == maxSecrets {
				return nil, fmt.Errorf("%s holds more than %d Secrets", dir, maxSecrets)
			}
			s[e.Name()] = data
		}
	}
	return s, nil
}

// AddSecrets writes secrets.age into the staged backup staging/name and
// adds it to SHA256SUMS and manifest.json (rewritten through a temporary
// file and a rename, so the manifest is never half written). A backup
// that already has it (a retried Job) is left alone.
func AddSecrets(staging, name string, s Secrets, recipients []string) error {
	dir := filepath.Join(staging, name)
	m, err := readManifest(staging, name)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(m.Parts, func(p Part) bool { return p.File == SecretsFile }) {
		return nil
	}
	enc, err := EncryptSecrets(s, recipients)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, SecretsFile), enc, 0o644); err != nil {
		return err
	}
	p := Part{File: SecretsFile, Size: int64(len(enc)), SHA256: sha256hex(enc)}
	sums, err := readBounded(filepath.Join(dir, sumsFile), maxSumsBytes)
	if err != nil {
		return err
	}
	// On a volume, a Job retried after it wrote SHA256SUMS but before the
	// manifest finds a line for the secrets.age it is about to replace
	// (encryption is randomised: new bytes, new sum). Two lines for one
	// file would make the restore's `sha256sum -c` fail.
	var kept []byte
	for line := range strings.Lines(string(sums)) {
		if strings.TrimRight(line, "\n") != "" && !strings.HasSuffix(strings.TrimRight(line, "\n"), "  "+SecretsFile) {
			kept = append(kept, line...)
		}
	}
	kept = fmt.Appendf(kept, "%s  %s\n", p.SHA256, p.File)
	if err := writeReplacing(filepath.Join(dir, sumsFile), kept); err != nil {
		return err
	}
	m.Parts = append(m.Parts, p)
	m.Size += p.Size
	// The restore script reads the manifest line by line ("  \"version\":
	// ..."): two-space indentation and the field order keep its layout.
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeReplacing(filepath.Join(dir, manifestFile), append(out, '\n'))
}

// writeReplacing replaces file through a temporary file and a rename: a
// reader (a restore of this backup) sees the old content or the new one,
// never half of it.
func writeReplacing(file string, data []byte) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// NewKey generates an age X25519 key pair for the operator-managed backup
// key Secret: the identity (AGE-SECRET-KEY-1...) and its public key (age1...).
func NewKey() (identity, recipient string, err error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", "", err
	}
	return id.String(), id.Recipient().String(), nil
}

package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
)

// Bounds on what is read from a bucket or a staging directory: a backup
// has a handful of parts, a manifest of a few hundred bytes.
const (
	maxManifestBytes = 64 << 10
	maxSumsBytes     = 16 << 10
	maxParts         = 8
	// S3's own limit on one object is 5 TiB.
	maxPartBytes = int64(5) << 40
	// maxListed bounds the keys or directories read under a prefix in one
	// listing; maxBackupKeys the keys in one backup directory.
	maxListed     = 20000
	maxBackupKeys = 32
)

const (
	// SecretsFile is the part holding the Instance's generated Secrets,
	// encrypted (written by the agent, not by the scripts).
	SecretsFile  = "secrets.age"
	manifestFile = "manifest.json"
	sumsFile     = "SHA256SUMS"
	formatV1     = "fedcommons-backup/1"
)

// partFiles are the only files a backup's manifest may list: the scripts'
// parts and the agent's encrypted secrets. A name outside this set is
// refused, so a manifest can never make the agent write or delete anything
// else.
var partFiles = map[string]bool{
	"database.pgdump": true,
	"database.sqlite": true,
	"media.tar":       true,
	SecretsFile:       true,
}

var (
	nameRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z$`)
	hexRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// IsBackupName says whether a directory's name is a backup's (the UTC time
// it was started, as backup.Name writes it).
func IsBackupName(s string) bool { return nameRE.MatchString(s) }

// Manifest is manifest.json as scripts/backup.sh writes it.
type Manifest struct {
	Format   string `json:"format"`
	Name     string `json:"name"`
	Software string `json:"software"`
	Version  string `json:"version"`
	Database string `json:"database"`
	Created  string `json:"created"`
	Size     int64  `json:"size"`
	Parts    []Part `json:"parts"`
}

// Part is one file of a backup.
type Part struct {
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// readManifest reads and checks the manifest of backup root/name on disk
// (a staging directory or a volume). Without one the backup is not
// complete: the script writes it last.
func readManifest(root, name string) (*Manifest, error) {
	raw, err := readBounded(filepath.Join(root, name, manifestFile), maxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("backup %s is not complete in %s (%v)", name, root, err)
	}
	return parseManifest(raw, name)
}

// parseManifest reads and checks a manifest of backup name.
func parseManifest(b []byte, name string) (*Manifest, error) {
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("manifest.json of backup %s is larger than %d bytes: not a fedcommons backup", name, maxManifestBytes)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest.json of backup %s is not valid JSON: %v", name, err)
	}
	if m.Format != formatV1 {
		return nil, fmt.Errorf("manifest.json of backup %s has format %q, not %s", name, m.Format, formatV1)
	}
	if m.Name != name {
		return nil, fmt.Errorf("manifest.json of backup %s names backup %q: it was moved or damaged", name, m.Name)
	}
	if len(m.Parts) == 0 || len(m.Parts) > maxParts {
		return nil, fmt.Errorf("manifest.json of backup %s lists %d parts, not 1 to %d", name, len(m.Parts), maxParts)
	}
	seen := map[string]bool{}
	var total int64
	for _, p := range m.Parts {
		if !partFiles[p.File] || seen[p.File] {
			return nil, fmt.Errorf("manifest.json of backup %s lists an unknown or repeated part %q", name, p.File)
		}
		seen[p.File] = true
		if p.Size < 0 || p.Size > maxPartBytes || !hexRE.MatchString(p.SHA256) {
			return nil, fmt.Errorf("manifest.json of backup %s: part %s has a size (%d) or sha256 out of bounds", name, p.File, p.Size)
		}
		total += p.Size
	}
	if total != m.Size {
		return nil, fmt.Errorf("manifest.json of backup %s: the parts add up to %d bytes, the manifest says %d", name, total, m.Size)
	}
	return &m, nil
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

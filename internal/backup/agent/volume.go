package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The agent's two commands for a backup on a volume (a PVC destination),
// where the backup script itself writes the backup in place and no
// bucket is involved: the agent only adds, and later reads back, the
// Instance's generated Secrets.

// maxSummaryBytes bounds the backup script's summary ({"name", "size"}),
// as the kubelet bounds a termination message.
const maxSummaryBytes = 4096

// runSeal adds secrets.age to the backup the script has just written on
// the volume: BACKUP_ROOT/<name>, name from BACKUP_SUMMARY. It then
// writes the summary again, with the size the manifest now says, as the
// Job's termination message.
func runSeal(env Env, log io.Writer) error {
	root, secrets := env("BACKUP_ROOT"), env("SECRETS_DIR")
	if root == "" || secrets == "" {
		return fmt.Errorf("BACKUP_ROOT and SECRETS_DIR must be set")
	}
	name, err := summaryName(env("BACKUP_SUMMARY"))
	if err != nil {
		return err
	}
	if want := env("BACKUP_NAME"); want != "" && want != name {
		return fmt.Errorf("the backup script took backup %s, not %s as asked: not sealing it", name, want)
	}
	if err := sealSecrets(root, name, secrets, env, log); err != nil {
		return err
	}
	m, err := readManifest(root, name)
	if err != nil {
		return err
	}
	if t := env("TERMINATION_LOG"); t != "" {
		_ = os.WriteFile(t, fmt.Appendf(nil, "{\"name\": \"%s\", \"size\": %d}\n", name, m.Size), 0o644)
	}
	return nil
}

// summaryName reads the name of the backup the script took from its
// summary file. The name is checked: it becomes a path.
func summaryName(file string) (string, error) {
	if file == "" {
		return "", fmt.Errorf("BACKUP_SUMMARY is not set")
	}
	raw, err := readBounded(file, maxSummaryBytes)
	if err != nil {
		return "", fmt.Errorf("the backup script left no summary (%v): the backup step did not finish", err)
	}
	var sum struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(raw, &sum); err != nil || !IsBackupName(sum.Name) {
		return "", fmt.Errorf("the backup script's summary %q names no backup", strings.TrimSpace(string(raw)))
	}
	return sum.Name, nil
}

// runUnseal puts back the Secrets of backup BACKUP_ROOT/BACKUP_NAME on
// the volume, before the restore script runs. The backup must be
// complete and its secrets.age match the manifest's checksum: a damaged
// file is refused before it is decrypted.
func runUnseal(ctx context.Context, env Env, log io.Writer) error {
	root, name, identity := env("BACKUP_ROOT"), env("BACKUP_NAME"), env("AGE_IDENTITY")
	if root == "" || identity == "" {
		return fmt.Errorf("BACKUP_ROOT and AGE_IDENTITY must be set")
	}
	if !IsBackupName(name) {
		return fmt.Errorf("BACKUP_NAME %q is not a backup's name such as 20261202T030000Z", name)
	}
	dir := filepath.Join(root, name)
	m, err := readManifest(root, name)
	if err != nil {
		return fmt.Errorf("%w: restore another one", err)
	}
	if err := checkPart(dir, m, SecretsFile); err != nil {
		return err
	}
	return restoreSecrets(ctx, dir, identity, env("NAMESPACE"), strings.Split(env("SECRET_NAMES"), ","), log)
}

// checkPart compares a part on disk with the manifest's size and sha256.
// A part the manifest does not list passes: the caller says what its
// absence means.
func checkPart(dir string, m *Manifest, file string) error {
	for _, p := range m.Parts {
		if p.File != file {
			continue
		}
		b, err := readBounded(filepath.Join(dir, file), min(p.Size, maxSecretsBytes*2)+1)
		if err != nil {
			return fmt.Errorf("backup %s: %v", m.Name, err)
		}
		if int64(len(b)) != p.Size || sha256hex(b) != p.SHA256 {
			return fmt.Errorf("backup %s: %s does not match its manifest (size or sha256): it is damaged", m.Name, file)
		}
	}
	return nil
}

package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Env is the agent's configuration, from the Job's environment:
//
//	S3_ENDPOINT, S3_BUCKET, S3_PREFIX, S3_REGION   the bucket (spec ...s3)
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY        from the credentials Secret
//	BACKUP_ROOT      the staging directory (an emptyDir shared with the script);
//	                 seal, unseal: the Instance's directory on the backup volume
//	BACKUP_NAME      the backup (download: required; upload: the one complete
//	                 backup in BACKUP_ROOT when unset)
//	KEEP_LAST, KEEP_DAILY, KEEP_WEEKLY   retention, applied after an upload
//	TERMINATION_LOG  where the summary goes (the Job's termination message)
//	SECRETS_DIR      upload, seal: the Instance's generated Secrets, mounted one
//	                 directory each; put into the backup as secrets.age
//	BACKUP_KEY_RECIPIENT, AGE_RECIPIENTS   upload, seal: the operator-managed key's
//	                 public key and spec.backup.encryption.recipients
//	                 (comma-separated), the keys secrets.age is encrypted to
//	AGE_IDENTITY     download, unseal: an identity that decrypts secrets.age;
//	                 with it the agent creates the backup's Secrets in
//	                 NAMESPACE, if all are among SECRET_NAMES (comma-separated)
//	BACKUP_SUMMARY   seal: the summary the backup script wrote ({"name",
//	                 "size"}), naming the backup it just took on the volume
type Env func(string) string

// Retain builds the retention decision from KEEP_LAST, KEEP_DAILY and
// KEEP_WEEKLY (the command passes backup.Prune).
type Retain func(keepLast, keepDaily, keepWeekly int) func(complete []string) []string

// Run runs one agent command as the Job does: "upload" or "download"
// between the Job's staging volume and a bucket, or "seal" or "unseal"
// for a backup on a volume (see volume.go).
func Run(ctx context.Context, args []string, env Env, retain Retain, log io.Writer) error {
	if len(args) != 1 {
		return usage()
	}
	switch args[0] {
	case "upload", "download":
		return runBucket(ctx, args[0], env, retain, log)
	case "seal":
		return runSeal(env, log)
	case "unseal":
		return runUnseal(ctx, env, log)
	}
	return usage()
}

func usage() error {
	return fmt.Errorf("usage: fedcommons backup-agent upload|download|seal|unseal (configured by environment variables, see docs/backups.md)")
}

// runBucket moves a backup between the staging volume and the bucket.
func runBucket(ctx context.Context, command string, env Env, retain Retain, log io.Writer) error {
	b, err := OpenBucket(BucketConfig{
		Endpoint: env("S3_ENDPOINT"), Bucket: env("S3_BUCKET"), Prefix: env("S3_PREFIX"), Region: env("S3_REGION"),
		AccessKeyID: env("AWS_ACCESS_KEY_ID"), SecretAccessKey: env("AWS_SECRET_ACCESS_KEY"),
	})
	if err != nil {
		return err
	}
	staging := env("BACKUP_ROOT")
	if staging == "" {
		return fmt.Errorf("BACKUP_ROOT is not set")
	}
	name := env("BACKUP_NAME")
	if command == "download" {
		if name == "" {
			return fmt.Errorf("BACKUP_NAME is not set")
		}
		if _, err := Download(ctx, b, staging, name, log); err != nil {
			return err
		}
		if id := env("AGE_IDENTITY"); id != "" {
			allowed := strings.Split(env("SECRET_NAMES"), ",")
			return restoreSecrets(ctx, filepath.Join(staging, name), id, env("NAMESPACE"), allowed, log)
		}
		return nil
	}
	if name == "" {
		if name, err = onlyBackup(staging); err != nil {
			return err
		}
	}
	if dir := env("SECRETS_DIR"); dir != "" {
		if err := sealSecrets(staging, name, dir, env, log); err != nil {
			return err
		}
	}
	m, err := Upload(ctx, b, staging, name, log)
	if err != nil {
		return err
	}
	if t := env("TERMINATION_LOG"); t != "" {
		// The same summary as the backup script's on a volume.
		_ = os.WriteFile(t, fmt.Appendf(nil, "{\"name\": \"%s\", \"size\": %d}\n", name, m.Size), 0o644)
	}
	if env("KEEP_LAST") == "" {
		return nil
	}
	keep := [3]int{}
	for i, k := range []string{"KEEP_LAST", "KEEP_DAILY", "KEEP_WEEKLY"} {
		if v := env(k); v != "" {
			if keep[i], err = strconv.Atoi(v); err != nil || keep[i] < 0 {
				return fmt.Errorf("%s=%q is not a count", k, v)
			}
		}
	}
	if keep[0] < 1 {
		return fmt.Errorf("retention keepLast must be at least 1, not %d", keep[0])
	}
	return Prune(ctx, b, retain(keep[0], keep[1], keep[2]), log)
}

// onlyBackup is the name of the one complete backup in a staging
// directory: the script container of this Job wrote it there.
func onlyBackup(staging string) (string, error) {
	entries, err := os.ReadDir(staging)
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(staging, e.Name(), manifestFile)); err == nil && IsBackupName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if len(names) != 1 {
		return "", fmt.Errorf("%s holds %d complete backups, not 1: the backup step did not finish", staging, len(names))
	}
	return names[0], nil
}

package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// sealSecrets puts the mounted Secrets into the staged backup, encrypted
// to the operator-managed key and the spec's recipients.
func sealSecrets(staging, name, dir string, env Env, log io.Writer) error {
	var recipients []string
	for _, r := range append([]string{env("BACKUP_KEY_RECIPIENT")}, strings.Split(env("AGE_RECIPIENTS"), ",")...) {
		if r = strings.TrimSpace(r); r != "" && !slices.Contains(recipients, r) {
			recipients = append(recipients, r)
		}
	}
	s, err := ReadSecretsDir(dir)
	if err != nil {
		return fmt.Errorf("reading the Instance's Secrets: %w", err)
	}
	if err := AddSecrets(staging, name, s, recipients); err != nil {
		return err
	}
	fmt.Fprintf(log, "fedcommons-backup: %d Secrets encrypted into %s for %d recipients\n", len(s), SecretsFile, len(recipients))
	return nil
}

// restoreSecrets decrypts the downloaded backup's secrets.age and creates
// its Secrets in namespace, through the in-cluster API (the restore Job's
// ServiceAccount).
func restoreSecrets(ctx context.Context, dir, identity, namespace string, allowed []string, log io.Writer) error {
	data, err := readBounded(filepath.Join(dir, SecretsFile), maxSecretsBytes*2)
	if os.IsNotExist(err) {
		return fmt.Errorf("backup %s holds no %s (it was taken without its Secrets): remove spec.restore.identitySecretRef to restore it without them", filepath.Base(dir), SecretsFile)
	}
	if err != nil {
		return err
	}
	s, err := DecryptSecrets(data, identity, "spec.restore.identitySecretRef")
	if err != nil {
		return err
	}
	if namespace == "" {
		return fmt.Errorf("NAMESPACE is not set")
	}
	if err := CheckSecretNames(s, allowed); err != nil {
		return err
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return fmt.Errorf("reaching the Kubernetes API to restore the Secrets: %w", err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	created, err := CreateSecrets(ctx, c, namespace, s)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "fedcommons-backup: restored Secrets %v (%d already there with the same data)\n", created, len(s)-len(created))
	return nil
}

// CheckSecretNames refuses a backup holding a Secret that is not one of
// the Instance's generated Secrets (allowed). Encryption to a public key
// says nothing of who wrote secrets.age: anyone who can write to the
// bucket could otherwise have the restore create any Secret in the
// namespace. The names carry the Instance's name, so a backup restores
// its Secrets into an Instance of the same name.
func CheckSecretNames(s Secrets, allowed []string) error {
	for name := range s {
		if !slices.Contains(allowed, name) {
			return fmt.Errorf("the backup holds Secret %s, which is not one of this Instance's generated Secrets (%s): restore it into an Instance of the name it was taken from", name, strings.Join(allowed, ", "))
		}
	}
	return nil
}

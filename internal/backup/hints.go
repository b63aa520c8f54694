package backup

import (
	"encoding/json"
	"fmt"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// PostgresServerImage is the image of the PostgreSQL server an Instance's
// backups read, which sets pg_dump's major version: the bundled one's, ""
// for SQLite. An external PostgreSQL's version is not known to the
// operator, so its backups are refused rather than guessed.
func PostgresServerImage(inst *v1alpha1.Instance, p *software.Profile) (string, error) {
	switch {
	case resources.DatabaseEngine(inst, p) == v1alpha1.DatabaseSQLite:
		return "", nil
	case resources.BundledPostgres(inst, p):
		return resources.PostgresImage, nil
	}
	return "", fmt.Errorf("backups of an external PostgreSQL are not supported yet: the operator cannot tell its major version, which pg_dump must match; back it up where it runs")
}

// RestoreFrom is the spec.restore that restores the backup named name of
// destination d into inst, as one line of JSON (valid YAML too) a
// sysadmin pastes into the Instance's manifest.
func RestoreFrom(inst *v1alpha1.Instance, d v1alpha1.BackupDestination, name string) string {
	from := v1alpha1.BackupLocation{S3: d.S3, Name: name}
	if d.PVC != nil {
		// The subPath spelled out: the new Instance may have another name.
		from.PVC = &v1alpha1.BackupPVC{ClaimName: d.PVC.ClaimName, SubPath: subPath(inst, d.PVC)}
	}
	b, err := json.Marshal(v1alpha1.RestoreSpec{From: from})
	if err != nil {
		return fmt.Sprintf("(cannot write spec.restore: %v)", err)
	}
	return string(b)
}

// GoBackHint tells a sysadmin how to go back to the backup taken before a
// failed upgrade: what to restore, at which version, and where the steps
// are written down.
func GoBackHint(inst *v1alpha1.Instance, d v1alpha1.BackupDestination, name, version string) string {
	return fmt.Sprintf("The backup taken before this upgrade is %s. To go back to %s, restore it as docs/backups.md (Going back to a backup) says: "+
		"delete the Instance and its database, then create it again with spec.version %s and spec.restore %s",
		Location(inst, d, name), version, version, RestoreFrom(inst, d, name))
}

package backup

import _ "embed"

var (
	//go:embed scripts/lib.sh
	libScript string
	//go:embed scripts/backup.sh
	backupScript string
	//go:embed scripts/restore.sh
	restoreScript string
)

// BackupScript is the script a backup Job runs (with sh -c): it writes one
// backup, its manifest last, then prunes by the retention. Its inputs are
// environment variables, documented at the top of scripts/backup.sh.
func BackupScript() string { return libScript + "\n" + backupScript }

// RestoreScript is the script a restore Job runs before the server's first
// start. Same environment as BackupScript, with BACKUP_NAME required.
func RestoreScript() string { return libScript + "\n" + restoreScript }

// PruneScript applies the retention (KEEP_LAST, KEEP_DAILY, KEEP_WEEKLY) to
// BACKUP_ROOT without taking a backup; it is the shell twin of Prune.
func PruneScript() string {
	return libScript + "\n" + `prune "${BACKUP_ROOT:?BACKUP_ROOT is not set}" "${KEEP_LAST:?KEEP_LAST is not set}" "${KEEP_DAILY:-0}" "${KEEP_WEEKLY:-0}"` + "\n"
}

// Package backup builds what an Instance's backup and restore Jobs run: the
// shell scripts (PostgreSQL through pg_dump/pg_restore, SQLite through
// VACUUM INTO, local media as a tar, a manifest written last), the Job and
// CronJob objects around them, and the retention decision as a pure
// function. It holds no Kubernetes client: a reconciler applies what it
// builds. The scripts are embedded as files and the tests run that exact
// text against real PostgreSQL and SQLite (see roundtrip tests), so what is
// tested is what the Jobs run.
//
// The Instance controller applies what it builds (controllers/
// instance_backup.go, instance_restore.go) and reads the Jobs back through
// the pure functions of status.go (termination message, Job state,
// BackupHealthy), schedule.go (the CronJob's next run and its longest
// interval, for status and the missed-backup alert) and hints.go (what a
// sysadmin pastes to restore).
//
// For an S3-compatible bucket, the Jobs also run the backup agent of the
// operator's own binary (package agent, `fedcommons backup-agent`) next
// to the script: it uploads or downloads the backup through an emptyDir,
// applies the retention in the bucket, and carries the Instance's
// generated Secrets, encrypted with age (KeySecret, RestoreRBAC). The S3
// tests run the scripts and the agent against a real S3-compatible server
// in the test process (gofakes3 on 127.0.0.1).
package backup

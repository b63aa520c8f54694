// Package backup builds what an Instance's backup and restore Jobs run: the
// shell scripts (PostgreSQL through pg_dump/pg_restore, SQLite through
// VACUUM INTO, local media as a tar, a manifest written last), the Job and
// CronJob objects around them, and the retention decision as a pure
// function. It holds no Kubernetes client: a reconciler applies what it
// builds. The scripts are embedded as files and the tests run that exact
// text against real PostgreSQL and SQLite (see roundtrip tests), so what is
// tested is what the Jobs run.
//
// This is the foundation of issue 18: the operator does not schedule
// backups or run restores yet (see docs/backups.md).
package backup

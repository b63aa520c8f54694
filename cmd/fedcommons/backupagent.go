package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fedcommons/fedcommons/internal/backup"
	"github.com/fedcommons/fedcommons/internal/backup/agent"
)

// runBackupAgent is `fedcommons backup-agent upload|download`, run by the
// backup and restore Jobs of an Instance whose backups are in a bucket
// (see internal/backup/agent). Its configuration is the environment; the
// retention decision is backup.Prune, the one the scripts' prune mirrors
// on a volume.
func runBackupAgent(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return agent.Run(ctx, args, os.Getenv, backup.PruneFunc, os.Stdout)
}

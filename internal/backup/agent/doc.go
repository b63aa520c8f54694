// Package agent is the backup agent that the operator's own binary runs
// inside backup and restore Jobs (`fedcommons backup-agent upload` and
// `download`): it moves one backup directory, as the backup scripts of
// package backup write it, between a Job's staging volume and an
// S3-compatible bucket.
//
// Upload sends every part, then SHA256SUMS, and manifest.json last, so a
// backup cut short in the bucket has no manifest and restore refuses it,
// exactly as on a volume. It then applies the retention to the backups in
// the bucket, deleting only directories named like a backup (a UTC time such
// as 20261202T030000Z) and only the files a backup holds: other keys under
// the prefix are never touched. Download reads manifest.json first, checks
// each part's size against it before reading, and its sha256 while reading,
// and writes manifest.json last into staging, where the restore script
// checks the checksums again.
//
// The Instance's generated Secrets travel in the backup as secrets.age,
// encrypted with age to the operator-managed key and the spec's
// recipients (EncryptSecrets, AddSecrets); a restore given an identity
// decrypts them and creates the Secrets through the in-cluster API,
// never overwriting one that holds other data (PlanSecrets,
// CreateSecrets). That is the agent's only use of the Kubernetes API.
//
// Everything read from the bucket is bounded: listings, the manifest's
// size and number of parts, each part's size. Credentials come from the
// environment (the Job sets them from a Secret), never from arguments.
//
// The package does not import package backup (whose tests drive it): the
// retention decision, backup.Prune, is passed in by the command.
package agent

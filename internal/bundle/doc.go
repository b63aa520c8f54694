// Package bundle writes and reads the file `fedcommons community export`
// produces and `fedcommons community import` reads: everything needed to
// recreate one community on another co-op's cluster.
//
// A bundle is a gzip-compressed tar archive of regular files:
//
//	manifest.yaml                 format version, source cluster, community, when;
//	                              per Instance its latest backup; the Secrets
//	                              carried (names only); trust relations
//	community.yaml                the Community
//	instances/NAME.yaml           each Instance
//	policies/NAME.yaml            each FederationPolicy
//	secrets.age                   the generated Secrets, encrypted with age
//
// Objects are cleaned of what belongs to the cluster they came from
// (status, uid, resourceVersion, managedFields, owner references,
// creationTimestamp); server-set defaults stay, they are what the API
// server would set again. The generated Secrets (keys, passwords, the
// admin token) are only ever written encrypted to the recipients' age
// public keys: Write refuses to run without a recipient, and no plaintext
// secret touches the disk.
//
// Read treats the file as untrusted: it bounds the compressed and
// uncompressed sizes, the number of entries, each entry's size and the
// decompression ratio before allocating, and refuses unknown format
// versions, unexpected or duplicate entries, paths leaving the archive, and
// anything that is not a regular file (symlinks, hard links, devices).
//
// The package is pure: no Kubernetes client. Reading from and writing to a
// cluster is internal/movecli.
package bundle

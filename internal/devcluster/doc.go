// Package devcluster is `fedcommons-dev` (what `make demo` runs): one
// process that shows fedcommons working end to end on a machine with no
// cluster, no containers and no downloads beyond Go modules.
//
// Run starts, all on 127.0.0.1:
//
//   - a local control plane (internal/localcluster: etcd, kube-apiserver,
//     kube-controller-manager, kube-scheduler and kwok, whose fake nodes
//     "run" pods so that Deployments become available and Jobs complete);
//   - fedcommons' CRDs, cert-manager's CRDs, the community ClusterRoles,
//     the operator namespace and a self-signed ClusterIssuer "letsencrypt";
//   - the operator itself, in-process, built by internal/manager exactly as
//     the `manager` command builds it;
//   - stand-ins for what a kubelet-less cluster lacks and fedcommons
//     relies on — cert-manager's controller (it issues a real self-signed
//     certificate for every Certificate) and a storage provisioner (a
//     PersistentVolume for every claim) — clearly named as such in logs and
//     labels, and living here, never in the operator;
//   - in-process fake Mastodon and GoToSocial admin APIs
//     (internal/moderation/drivers/fakeserver) standing for the servers'
//     moderation endpoints, and a loopback HTTP server publishing an
//     excerpt of a real blocklist (IFTAS DNI);
//   - the demo's objects (manifests/*.yaml, derived from config/samples):
//     two communities, three servers, two federation policies.
//
// It then shows, refreshed every two seconds, what the operator made of
// them: communities, instances, each policy's effective entries with their
// provenance, and what each server received over HTTP.
//
// The stand-ins exist because the demo must run anywhere `go` runs: the
// cert-manager controller and a CSI driver cannot be installed from the Go
// module proxy, and kwok pods run no containers. Everything the operator
// does against them is what it does against the real thing.
package devcluster

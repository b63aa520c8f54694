// Package crash is the crash-consistency suite of issue 14: the operator
// runs as a real process (cmd/fedcommons built once, `fedcommons manager`
// with a kubeconfig for its ServiceAccount) against a local cluster
// (internal/localcluster: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, kwok nodes that run Pods and complete Jobs; the stand-ins
// of internal/devcluster issue certificates and bind volumes), is killed with SIGKILL at random moments while hosted
// Instances of both kinds roll out, and restarted. Afterwards the objects
// must be those of a clean run: the same inventory (kind, namespace, name,
// hash of spec), no duplicates, no orphans, no stuck finalizers, and every
// generated Secret byte-identical to the first version seen, and every
// Instance Ready.
//
// There is no non-test code here: `go test ./test/crash/` runs the small
// variant.
package crash

// Package apifaults runs the real operator (internal/manager, every
// reconciler, as its ServiceAccount) against a real control plane
// (internal/localcluster: etcd, kube-apiserver, kube-controller-manager,
// kwok, with the dev stand-ins for cert-manager and storage) through a fault-injecting proxy (internal/testenv/apifault), for the API
// server fault suite of issue 14: conflicts on every status write for a
// while, dropped watches, expired resourceVersions (410 Gone) and the API
// server restarted mid-reconcile. After each fault the reconcilers must
// converge, and the controller-runtime error counters must stay bounded.
//
// There is no non-test code here: `go test ./test/apifaults/` runs it.
package apifaults

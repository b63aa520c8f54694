// Package localcluster starts a real, kubelet-less Kubernetes control plane
// on the loopback interface: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok (fake nodes that "run" pods).
//
// It exists for `fedcommons-dev`, `make demo` and the end-to-end tests. Plain
// envtest runs only etcd and the API server, so nothing reconciles the
// objects the operator creates: Deployments never get Pods, Jobs never
// finish, ResourceQuota status is never filled (and so quotas on custom
// resources are never enforced). With the controller-manager, the scheduler
// and kwok, a Deployment really gets a ReplicaSet and Pods, the Pods are
// bound to a kwok node and marked Running and Ready, Jobs complete, and
// quotas are enforced — without containers, kubelets or root.
//
// The binaries come from the Go module proxy, built by hack/k8s-assets.sh
// (release tarballs cannot be downloaded where this project is built);
// BinDir finds or builds them.
//
// Everything binds to 127.0.0.1. Each process runs in its own process group
// with its output in a log file under LogDir. Stop (or cancelling the
// context given to Start) terminates the processes in reverse start order,
// and a failed Start cleans up after itself: no process is left behind.
//
// Typical use:
//
//	bin, err := localcluster.BinDir(ctx, os.Stderr)
//	...
//	c, err := localcluster.Start(ctx, localcluster.Options{BinDir: bin, Out: os.Stderr})
//	...
//	defer c.Stop()
//	cfg := c.RESTConfig()
package localcluster

// Package e2e runs fedcommons against a real, kubelet-less control plane
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
// from internal/localcluster): what envtest's lone API server cannot show,
// such as quotas enforced once the controller-manager has filled their
// status, and Deployments that really become available.
package e2e

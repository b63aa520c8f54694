// Package testenv gives tests a real kube-apiserver and etcd (envtest),
// using the binaries hack/k8s-assets.sh builds from Go modules and caches
// by version. `make test` sets KUBEBUILDER_ASSETS; a plain `go test` of one
// package builds or reuses the cached binaries itself, so no test is ever
// skipped for want of them.
//
// Only tests import it.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Assets returns the directory holding kube-apiserver and etcd:
// KUBEBUILDER_ASSETS when set, otherwise what hack/k8s-assets.sh prints
// after building (or finding) them.
func Assets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	// This file's location finds the repository whatever package the
	// test runs in.
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the repository to run hack/k8s-assets.sh")
	}
	script := filepath.Join(filepath.Dir(self), "..", "..", "hack", "k8s-assets.sh")
	out, err := exec.Command(script, "kube-apiserver", "etcd").Output()
	if err != nil {
		return "", fmt.Errorf("hack/k8s-assets.sh builds the envtest binaries: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Start starts env (with the binaries from Assets unless it names its own)
// and stops it when the test ends.
func Start(t testing.TB, env *envtest.Environment) *rest.Config {
	t.Helper()
	if env.BinaryAssetsDirectory == "" {
		dir, err := Assets()
		if err != nil {
			t.Fatal(err)
		}
		env.BinaryAssetsDirectory = dir
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	return cfg
}

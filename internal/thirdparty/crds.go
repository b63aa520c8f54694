// Package thirdparty locates the CustomResourceDefinitions of the projects
// fedcommons integrates with (cert-manager, Gateway API). They ship in those
// projects' Go modules, which are already pinned in go.mod: the versions the
// operator compiles against are the versions tests and the demo install.
package thirdparty

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Module paths and the folders inside them holding CRD YAML.
var crdSources = []struct{ module, dir string }{
	{"github.com/cert-manager/cert-manager", "deploy/crds"},
	{"sigs.k8s.io/gateway-api", "config/crd/standard"},
}

// CRDDirs returns the folders holding cert-manager's and Gateway API's CRDs,
// resolved through the Go module cache (downloading the modules if needed).
func CRDDirs() ([]string, error) {
	dirs := make([]string, 0, len(crdSources))
	for _, s := range crdSources {
		out, err := exec.Command("go", "list", "-mod=mod", "-m", "-f", "{{.Dir}}", s.module).Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			return nil, fmt.Errorf("locate the %s module for its CRDs: %v %s", s.module, err, stderr)
		}
		dir := strings.TrimSpace(string(out))
		if dir == "" {
			// Listed but not downloaded yet.
			if err := exec.Command("go", "mod", "download", s.module).Run(); err != nil {
				return nil, fmt.Errorf("download %s for its CRDs: %w", s.module, err)
			}
			out, _ = exec.Command("go", "list", "-mod=mod", "-m", "-f", "{{.Dir}}", s.module).Output()
			dir = strings.TrimSpace(string(out))
		}
		path := filepath.Join(dir, s.dir)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("CRDs of %s not found at %s: %w", s.module, path, err)
		}
		dirs = append(dirs, path)
	}
	return dirs, nil
}

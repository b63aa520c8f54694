package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BinDirEnv names the environment variable that points at a directory of
// ready binaries, skipping the build script.
const BinDirEnv = "FEDCOMMONS_K8S_BIN"

// assetsScript is the script that builds the binaries, relative to the
// repository root.
const assetsScript = "hack/k8s-assets.sh"

// requiredBinaries are the programs Start runs.
var requiredBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// BinDir returns the directory holding the binaries Start needs.
//
// When FEDCOMMONS_K8S_BIN is set, it must hold them. Otherwise BinDir looks
// for hack/k8s-assets.sh in the working directory and its parents (so it
// works from the repository root and from a package directory under test)
// and runs it: the script returns its cache directory at once when
// everything is built and builds what is missing otherwise (minutes, the
// first time). The script's progress goes to progress (nil discards it).
func BinDir(ctx context.Context, progress io.Writer) (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinDirEnv, dir, err)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	script, err := findUp(wd, assetsScript)
	if err != nil {
		return "", fmt.Errorf("no binaries: set %s to a directory holding %s, or run from the fedcommons repository (%w)",
			BinDirEnv, strings.Join(requiredBinaries, ", "), err)
	}
	if progress == nil {
		progress = io.Discard
	}
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, script, requiredBinaries...)
	cmd.Dir = filepath.Dir(filepath.Dir(script))
	cmd.Stdout = &stdout
	cmd.Stderr = progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w", script, err)
	}
	// The directory is the script's last line of output.
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if dir == "" {
		return "", fmt.Errorf("%s printed no directory", script)
	}
	if err := checkBinDir(dir); err != nil {
		return "", fmt.Errorf("%s returned %s: %w", script, dir, err)
	}
	return dir, nil
}

// checkBinDir reports which required binaries or stage files are missing.
func checkBinDir(dir string) error {
	if dir == "" {
		return errors.New("no BinDir given (see localcluster.BinDir)")
	}
	var missing []string
	for _, b := range requiredBinaries {
		st, err := os.Stat(filepath.Join(dir, b))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s lacks %s: build them with %s %s",
			dir, strings.Join(missing, ", "), assetsScript, strings.Join(requiredBinaries, " "))
	}
	_, err := stageSources(dir)
	return err
}

// findUp returns the path of rel in dir or its closest parent holding it.
func findUp(dir, rel string) (string, error) {
	for {
		p := filepath.Join(dir, rel)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found above %s", rel, dir)
		}
		dir = parent
	}
}

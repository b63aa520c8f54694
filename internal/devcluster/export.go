package devcluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fedcommons/fedcommons/internal/movecli"
)

// exportCommunity is the demo's last scene (issue 18): riverside packed up
// to move to another co-op, with the code of `fedcommons community export
// riverside -o DIR/bundle.tar.gz --recipient KEY`. The demo plays the new
// host: it generates the age key pair the bundle's secrets are encrypted
// to and keeps the private half next to the bundle, so that
// `fedcommons community show|import` can be tried on it.
//
// The key file is what age-keygen writes: comments, then the private key.
const exportCommunity = "riverside"

func runExportScene(ctx context.Context, c client.Client, server, demoDir string, log *sceneLog) error {
	// A new directory in the demo's own: export never overwrites a file,
	// and the demo's directory is where its files are looked for.
	dir, err := os.MkdirTemp(demoDir, "export-")
	if err != nil {
		return err
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	keyFile := filepath.Join(dir, "new-host.agekey")
	if err := os.WriteFile(keyFile, []byte(fmt.Sprintf("# the new host's age key (demo)\n# public key: %s\n%s\n", id.Recipient(), id)), 0o600); err != nil {
		return err
	}
	path := filepath.Join(dir, "bundle.tar.gz")
	log.say("Moving a community: fedcommons community export %s -o %s --recipient %s", exportCommunity, path, id.Recipient())
	var out bytes.Buffer
	if err := movecli.ExportFile(ctx, c, server, exportCommunity, path, []string{id.Recipient().String()}, "fedcommons-dev (demo)", &out); err != nil {
		return fmt.Errorf("export %s: %w", exportCommunity, err)
	}
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		log.say("  %s", line)
	}
	log.say("The private key that opens its secrets: %s (try: go run ./cmd/fedcommons community show %s)", keyFile, path)
	return nil
}

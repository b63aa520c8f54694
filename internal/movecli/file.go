package movecli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fedcommons/fedcommons/internal/bundle"
)

// ExportFile is `fedcommons community export NAME -o path --recipient
// key...`: it exports community name from c into a new file at path, its
// Secrets encrypted to keys, and says on out what it wrote.
func ExportFile(ctx context.Context, c client.Client, server, name, path string, keys []string, createdBy string, out io.Writer) error {
	if path == "" {
		return fmt.Errorf("give the bundle file to write with -o, such as -o %s.tar.gz", name)
	}
	if len(keys) == 0 {
		return bundle.ErrNoRecipient
	}
	var recipients []age.Recipient
	for _, k := range keys {
		r, err := bundle.ParseRecipient(k)
		if err != nil {
			return err
		}
		recipients = append(recipients, r)
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists already: export never overwrites a file; remove it or choose another name", path)
	}
	b, err := Export(ctx, c, server, name, createdBy, time.Now())
	if err != nil {
		return err
	}
	b.Manifest.Recipients = keys
	// Written next to the target and linked into place, so an interrupted
	// export never leaves a truncated bundle under the name asked for, and
	// a file created meanwhile is not overwritten.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fedcommons-export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := bundle.Write(tmp, b, recipients); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Wrote %s (%d bytes)\n", path, info.Size())
	WriteContents(out, b)
	return nil
}

package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/minio/minio-go/v7"
)

// Upload sends the complete backup staging/name to the bucket: the parts,
// SHA256SUMS, and manifest.json last. A backup already complete in the
// bucket (a retried Job) is left as it is.
func Upload(ctx context.Context, b *Bucket, staging, name string, log io.Writer) (*Manifest, error) {
	if !IsBackupName(name) {
		return nil, fmt.Errorf("backup name %q is not a UTC time such as 20261202T030000Z", name)
	}
	dir := filepath.Join(staging, name)
	raw, err := readBounded(filepath.Join(dir, manifestFile), maxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("backup %s is not complete in %s (%v): the backup step did not finish", name, staging, err)
	}
	m, err := parseManifest(raw, name)
	if err != nil {
		return nil, err
	}
	if _, done, err := b.exists(ctx, b.dir(name)+manifestFile); err != nil {
		return nil, err
	} else if done {
		fmt.Fprintf(log, "fedcommons-backup: backup %s is already complete in %s\n", name, b.Location(name))
		return m, nil
	}
	for _, p := range m.Parts {
		if err := b.put(ctx, filepath.Join(dir, p.File), b.dir(name)+p.File, p.Size); err != nil {
			return nil, err
		}
	}
	if err := b.put(ctx, filepath.Join(dir, sumsFile), b.dir(name)+sumsFile, -1); err != nil {
		return nil, err
	}
	// Last: until this object exists, the backup in the bucket is a
	// partial one that restore refuses and pruning removes.
	if err := b.put(ctx, filepath.Join(dir, manifestFile), b.dir(name)+manifestFile, int64(len(raw))); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "fedcommons-backup: uploaded backup %s (%d bytes) to %s\n", name, m.Size, b.Location(name))
	return m, nil
}

// put uploads file to key; want, when not -1, is the size the manifest
// gives it, checked before sending.
func (b *Bucket) put(ctx context.Context, file, key string, want int64) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if want >= 0 && st.Size() != want {
		return fmt.Errorf("%s has %d bytes, its manifest says %d: the backup changed after it was written", file, st.Size(), want)
	}
	_, err = b.client.PutObject(ctx, b.Name, key, f, st.Size(), minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("uploading %s to s3://%s/%s: %w", filepath.Base(file), b.Name, key, err)
	}
	return nil
}

// Prune applies the retention to the backups in the bucket: drop (such as
// backup.Prune with the Instance's retention) picks, among the complete
// backups' names, those to delete. Partial backups (no manifest.json) older
// than the newest complete one are leftovers of runs cut short and are
// deleted too, as the scripts' prune does on a volume. Only directories
// named like a backup are looked at, and in them only a backup's files are
// deleted.
func Prune(ctx context.Context, b *Bucket, drop func(complete []string) []string, log io.Writer) error {
	dirs, err := b.list(ctx, b.root(), false, maxListed)
	if err != nil {
		return err
	}
	var complete, partial []string
	for _, d := range dirs {
		name := path.Base(d.Key)
		if d.Key != b.root()+name+"/" || !IsBackupName(name) {
			continue // another object or directory under the prefix: not ours
		}
		_, ok, err := b.exists(ctx, b.dir(name)+manifestFile)
		if err != nil {
			return err
		}
		if ok {
			complete = append(complete, name)
		} else {
			partial = append(partial, name)
		}
	}
	var newest string
	if len(complete) > 0 {
		newest = slices.Max(complete)
	}
	for _, n := range drop(complete) {
		if !slices.Contains(complete, n) {
			continue
		}
		fmt.Fprintf(log, "fedcommons-backup: pruning %s (outside the retention)\n", n)
		if err := b.remove(ctx, n); err != nil {
			return err
		}
	}
	for _, n := range partial {
		// Names are times: as strings they compare in time order.
		if n < newest {
			fmt.Fprintf(log, "fedcommons-backup: removing %s: an incomplete backup (no manifest.json) older than %s\n", n, newest)
			if err := b.remove(ctx, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// remove deletes backup name's files, manifest.json first: a deletion cut
// short leaves a partial backup (refused, pruned later), never a complete
// one with missing parts. Keys that are not a backup's files stay.
func (b *Bucket) remove(ctx context.Context, name string) error {
	objs, err := b.list(ctx, b.dir(name), true, maxBackupKeys)
	if err != nil {
		return err
	}
	keys := []string{b.dir(name) + manifestFile}
	for _, o := range objs {
		f := o.Key[len(b.dir(name)):]
		if partFiles[f] || f == sumsFile {
			keys = append(keys, o.Key)
		}
	}
	for _, k := range keys {
		if err := b.client.RemoveObject(ctx, b.Name, k, minio.RemoveObjectOptions{}); err != nil {
			return fmt.Errorf("deleting s3://%s/%s: %w", b.Name, k, err)
		}
	}
	return nil
}

// readBounded reads a file of at most limit bytes.
func readBounded(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", file, limit)
	}
	return b, nil
}

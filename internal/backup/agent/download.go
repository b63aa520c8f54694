package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/minio/minio-go/v7"
)

// Download fetches backup name from the bucket into staging/name for the
// restore script. It refuses a backup without manifest.json (cut short), a
// part whose size or sha256 differs from the manifest (damaged), and
// writes manifest.json last, so that a download cut short is refused by
// the restore script as a partial backup.
func Download(ctx context.Context, b *Bucket, staging, name string, log io.Writer) (*Manifest, error) {
	if !IsBackupName(name) {
		return nil, fmt.Errorf("backup name %q is not a UTC time such as 20261202T030000Z", name)
	}
	loc := b.Location(name)
	raw, err := b.get(ctx, b.dir(name)+manifestFile, maxManifestBytes)
	if err != nil {
		if r := minio.ToErrorResponse(err); r.Code == minio.NoSuchKey {
			objs, lerr := b.list(ctx, b.dir(name), true, 1)
			if lerr == nil && len(objs) == 0 {
				return nil, fmt.Errorf("no backup %s in s3://%s/%s", name, b.Name, b.root())
			}
			return nil, fmt.Errorf("backup %s is incomplete (no manifest.json) in %s: it was cut short; restore another one", name, loc)
		}
		return nil, fmt.Errorf("reading the manifest of %s: %w", loc, err)
	}
	m, err := parseManifest(raw, name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(staging, name)
	// A retried Job starts again from a clean directory.
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, p := range m.Parts {
		fmt.Fprintf(log, "fedcommons-backup: downloading %s of %s (%d bytes)\n", p.File, loc, p.Size)
		if err := b.fetch(ctx, b.dir(name)+p.File, filepath.Join(dir, p.File), p, loc); err != nil {
			return nil, err
		}
	}
	sums, err := b.get(ctx, b.dir(name)+sumsFile, maxSumsBytes)
	if err != nil {
		return nil, fmt.Errorf("backup %s has no readable SHA256SUMS (%v): it is damaged", loc, err)
	}
	if err := os.WriteFile(filepath.Join(dir, sumsFile), sums, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, manifestFile), raw, 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "fedcommons-backup: downloaded backup %s (%d bytes), sizes and checksums match its manifest\n", loc, m.Size)
	return m, nil
}

// get reads a small object whole, refusing one larger than limit.
func (b *Bucket) get(ctx context.Context, key string, limit int64) ([]byte, error) {
	o, err := b.client.GetObject(ctx, b.Name, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	data, err := io.ReadAll(io.LimitReader(o, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("s3://%s/%s is larger than %d bytes", b.Name, key, limit)
	}
	return data, nil
}

// fetch downloads key into file, checking its size before reading and its
// sha256 after: at most p.Size bytes are ever read.
func (b *Bucket) fetch(ctx context.Context, key, file string, p Part, loc string) error {
	info, ok, err := b.exists(ctx, key)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("backup %s lacks %s, which its manifest lists: it is damaged", loc, p.File)
	}
	if info.Size != p.Size {
		return fmt.Errorf("backup %s: %s has %d bytes, its manifest says %d: it is damaged", loc, p.File, info.Size, p.Size)
	}
	o, err := b.client.GetObject(ctx, b.Name, key, minio.GetObjectOptions{})
	if err != nil {
		return err
	}
	defer o.Close()
	f, err := os.OpenFile(file, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(o, p.Size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("downloading %s of %s: %w", p.File, loc, err)
	}
	if n != p.Size || hex.EncodeToString(h.Sum(nil)) != p.SHA256 {
		return fmt.Errorf("backup %s: %s does not match the sha256 and size in its manifest: it is damaged", loc, p.File)
	}
	return nil
}

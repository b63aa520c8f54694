package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The image's fixed shape, the same as the Dockerfile's
// gcr.io/distroless/static:nonroot stage: the operator at /fedcommons,
// started as `fedcommons manager`, as UID/GID 65532 (numeric, so that
// Kubernetes can verify runAsNonRoot without a runAsUser).
const (
	binaryPath = "/fedcommons"
	caPath     = "/etc/ssl/certs/ca-certificates.crt"
	user       = "65532:65532"
)

var (
	entrypoint = []string{binaryPath}
	cmd        = []string{"manager"}
	env        = []string{"PATH=/", "SSL_CERT_FILE=" + caPath}
)

// passwd and group name root and nonroot as distroless does, so that
// anything resolving UID 65532 (os/user, a shell in a debug container)
// finds a user without a home in the read-only root.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

// file is one entry of the image's only layer.
type file struct {
	path string
	mode int64
	data []byte
}

// layerFiles lists the layer's files, in the order they are written. The
// CA bundle is there because the operator fetches subscribed blocklists
// over HTTPS with the system roots, and a scratch image has none.
func layerFiles(binary, caBundle []byte) []file {
	return []file{
		{path: "/etc/group", mode: 0o444, data: []byte(group)},
		{path: "/etc/passwd", mode: 0o444, data: []byte(passwd)},
		{path: caPath, mode: 0o444, data: caBundle},
		{path: binaryPath, mode: 0o555, data: binary},
	}
}

// Build assembles the image: one layer on an empty base, owned by root and
// read-only (the process runs as 65532 and must not be able to rewrite
// itself), with every timestamp at created so that the same inputs give
// the same digest.
func Build(binary, caBundle []byte, arch string, created time.Time) (v1.Image, error) {
	layerTar, err := tarFiles(layerFiles(binary, caBundle), created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = arch
	cf.Created = v1.Time{Time: created}
	cf.Config.User = user
	cf.Config.Entrypoint = entrypoint
	cf.Config.Cmd = cmd
	cf.Config.Env = env
	cf.Config.WorkingDir = "/"
	return mutate.ConfigFile(img, cf)
}

// tarFiles writes files as a tar stream with their parent directories.
func tarFiles(files []file, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		for _, d := range parents(f.path) {
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
				return nil, err
			}
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: f.path[1:], Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// parents returns the directories above an absolute path, outermost first,
// without the leading slash: "/etc/ssl/certs/x" → etc, etc/ssl, etc/ssl/certs.
func parents(p string) []string {
	var out []string
	for i := 1; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[1:i])
		}
	}
	return out
}

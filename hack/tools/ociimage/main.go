// Command ociimage builds the operator's container image without a
// container engine or a registry (what `make image` runs): a "FROM
// scratch" equivalent of the Dockerfile's distroless/static:nonroot stage,
// written as an image tarball (the format of `docker save` and
// `ko build --tarball`) that `docker load`, `podman load`,
// `kind load image-archive` and `crane push` accept.
//
// ko would be the usual tool, but it pulls its base image from a registry
// or a Docker daemon, and the machines this project builds on reach
// neither. The image holds one layer: the static operator binary, a CA
// bundle (the operator fetches blocklists over HTTPS) and passwd/group
// entries for UID 65532. After writing, the tarball is read back from disk
// and checked (Verify), so a broken image fails the build.
//
// It lives in the tools module, never in the shipped binary.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "ociimage: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("ociimage", flag.ContinueOnError)
	var (
		binPath = fs.String("binary", "", "the operator binary: static, linux, for --arch (required)")
		caFile  = fs.String("ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM CA bundle to install at "+caPath+" (Debian's ca-certificates)")
		out     = fs.String("out", "", "image tarball to write (required)")
		ref     = fs.String("ref", "", "image reference (repository:tag) recorded in the tarball (required)")
		arch    = fs.String("arch", runtime.GOARCH, "the image's architecture (GOARCH)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binPath == "" || *out == "" || *ref == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("want --binary, --out and --ref, and no arguments")
	}
	tag, err := name.NewTag(*ref)
	if err != nil {
		return fmt.Errorf("--ref: %w", err)
	}
	binary, err := os.ReadFile(*binPath)
	if err != nil {
		return err
	}
	if err := verifyStatic(binary, *arch); err != nil {
		return fmt.Errorf("%s: %w", *binPath, err)
	}
	caBundle, err := os.ReadFile(*caFile)
	if err != nil {
		return fmt.Errorf("CA bundle (apt-get install ca-certificates): %w", err)
	}
	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	img, err := Build(binary, caBundle, *arch, created)
	if err != nil {
		return err
	}

	// Written beside the destination and renamed, so that an interrupted
	// build never leaves a truncated tarball under the final name.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".ociimage-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tarball.Write(tag, img, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the tarball: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := Verify(tmp.Name(), binary, caBundle, *arch); err != nil {
		return fmt.Errorf("the written image is wrong: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil { // CreateTemp makes it 0600
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	return report(*out, tag, img)
}

// sourceDateEpoch is the image's timestamp: SOURCE_DATE_EPOCH when set
// (reproducible-builds.org), else the Unix epoch, as ko does, so that
// rebuilding the same binary gives the same digest.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", s, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// report prints what was written: where, which image, and its sizes.
func report(out string, tag name.Tag, img interface {
	Digest() (v1.Hash, error)
	Layers() ([]v1.Layer, error)
}) error {
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	var compressed int64
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return err
		}
		compressed += n
	}
	fmt.Printf("%s: %s@%s, tarball %.1f MB, layers %.1f MB compressed (checked: user %s, entrypoint %q)\n",
		out, tag, digest, float64(st.Size())/1e6, float64(compressed)/1e6, user, entrypoint)
	return nil
}

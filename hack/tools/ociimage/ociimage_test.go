package main

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var (
	testTag = name.MustParseReference("example.test/fedcommons:t").(name.Tag)
	testCA  = []byte("-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n")
	epoch   = time.Unix(0, 0).UTC()
)

// staticBinary builds a tiny Go program as the Dockerfile builds the
// operator (CGO_ENABLED=0, linux), so that the ELF checks see the real thing.
func staticBinary(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"operator\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bin")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=", "GO111MODULE=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, img v1.Image) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(p, testTag, img); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildGivesTheDistrolessShape(t *testing.T) {
	bin := staticBinary(t)
	img, err := Build(bin, testCA, runtime.GOARCH, epoch)
	if err != nil {
		t.Fatal(err)
	}
	p := write(t, img)
	if err := Verify(p, bin, testCA, runtime.GOARCH); err != nil {
		t.Fatalf("Verify of a freshly built image: %v", err)
	}

	// Read back independently of Verify: the numbers Kubernetes and the
	// Deployment's securityContext rely on.
	back, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || !slices.Equal(cf.Config.Entrypoint, []string{"/fedcommons"}) ||
		!slices.Equal(cf.Config.Cmd, []string{"manager"}) || cf.OS != "linux" {
		t.Errorf("config = user %q entrypoint %q cmd %q os %q", cf.Config.User, cf.Config.Entrypoint, cf.Config.Cmd, cf.OS)
	}
	layers, _ := back.Layers()
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var files []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			files = append(files, h.Name)
		}
		if h.Name == "fedcommons" && (h.Mode != 0o555 || h.Size != int64(len(bin))) {
			t.Errorf("fedcommons: mode %o size %d, want 555 and %d", h.Mode, h.Size, len(bin))
		}
	}
	want := []string{"etc/group", "etc/passwd", "etc/ssl/certs/ca-certificates.crt", "fedcommons"}
	if !slices.Equal(files, want) {
		t.Errorf("layer files %q, want %q", files, want)
	}

	// The same inputs give the same image.
	again, err := Build(bin, testCA, runtime.GOARCH, epoch)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two builds of the same binary differ: %s, %s", d1, d2)
	}
}

// TestVerifyRejects proves the check can fail: each image is wrong in one
// way a cluster would notice.
func TestVerifyRejects(t *testing.T) {
	bin := staticBinary(t)
	good, err := Build(bin, testCA, runtime.GOARCH, epoch)
	if err != nil {
		t.Fatal(err)
	}
	withConfig := func(edit func(*v1.ConfigFile)) v1.Image {
		cf, err := good.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		edit(cf)
		img, err := mutate.ConfigFile(good, cf)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	extraLayer, err := mutate.AppendLayers(good, static.NewLayer([]byte("x"), types.DockerLayer))
	if err != nil {
		t.Fatal(err)
	}
	onlyBinaryTar, err := tarFiles([]file{{path: binaryPath, mode: 0o555, data: bin}}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	onlyBinaryLayer, err := tarball.LayerFromReader(strings.NewReader(string(onlyBinaryTar)))
	if err != nil {
		t.Fatal(err)
	}
	missingCA, err := mutate.AppendLayers(empty.Image, onlyBinaryLayer)
	if err != nil {
		t.Fatal(err)
	}
	missingCA = withConfigOf(t, missingCA, good)

	for _, tc := range []struct {
		name string
		img  v1.Image
		bin  []byte
		arch string
		want string
	}{
		{"runs as root", withConfig(func(cf *v1.ConfigFile) { cf.Config.User = "0" }), bin, runtime.GOARCH, "user"},
		{"named user", withConfig(func(cf *v1.ConfigFile) { cf.Config.User = "nonroot" }), bin, runtime.GOARCH, "user"},
		{"other entrypoint", withConfig(func(cf *v1.ConfigFile) { cf.Config.Entrypoint = []string{"/bin/sh"} }), bin, runtime.GOARCH, "entrypoint"},
		{"no manager command", withConfig(func(cf *v1.ConfigFile) { cf.Config.Cmd = nil }), bin, runtime.GOARCH, "cmd"},
		{"two layers", extraLayer, bin, runtime.GOARCH, "2 layers"},
		{"no CA bundle", missingCA, bin, runtime.GOARCH, "missing from the layer"},
		{"another binary", good, append(slices.Clone(bin), 0), runtime.GOARCH, "differs"},
		{"wrong architecture", good, bin, otherArch(), "platform"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(write(t, tc.img), tc.bin, testCA, tc.arch)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestVerifyStaticRejects(t *testing.T) {
	if err := verifyStatic([]byte("#!/bin/sh\necho not elf\n"), runtime.GOARCH); err == nil {
		t.Error("a shell script passed as the operator binary")
	}
	if err := verifyStatic(staticBinary(t), otherArch()); err == nil {
		t.Errorf("a %s binary passed for %s", runtime.GOARCH, otherArch())
	}
}

func otherArch() string {
	if runtime.GOARCH == "arm64" {
		return "amd64"
	}
	return "arm64"
}

// withConfigOf gives img the config of from (keeping img's own layers).
func withConfigOf(t *testing.T, img, from v1.Image) v1.Image {
	t.Helper()
	cf, err := from.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	own, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.RootFS = own.RootFS
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// elfMachines maps the GOARCH values an operator image is built for to the
// ELF machine their binaries carry.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
}

// Verify reads the image tarball at path back from disk and checks what a
// cluster will run: the config (user, entrypoint, command, platform) and
// the one layer, file by file against binary and caBundle. It checks the
// artifact, not Build's intentions, so it also catches a writer that
// loses or adds something.
func Verify(path string, binary, caBundle []byte, arch string) error {
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := verifyConfig(cf, arch); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	if len(layers) != 1 {
		return fmt.Errorf("%d layers, want exactly one (the operator and its CA bundle)", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := verifyLayer(rc, layerFiles(binary, caBundle)); err != nil {
		return err
	}
	return verifyStatic(binary, arch)
}

func verifyConfig(cf *v1.ConfigFile, arch string) error {
	var errs []error
	if cf.OS != "linux" || cf.Architecture != arch {
		errs = append(errs, fmt.Errorf("platform %s/%s, want linux/%s", cf.OS, cf.Architecture, arch))
	}
	if cf.Config.User != user {
		errs = append(errs, fmt.Errorf("user %q, want %q (numeric, non-root)", cf.Config.User, user))
	}
	if !slices.Equal(cf.Config.Entrypoint, entrypoint) {
		errs = append(errs, fmt.Errorf("entrypoint %q, want %q", cf.Config.Entrypoint, entrypoint))
	}
	if !slices.Equal(cf.Config.Cmd, cmd) {
		errs = append(errs, fmt.Errorf("cmd %q, want %q", cf.Config.Cmd, cmd))
	}
	return errors.Join(errs...)
}

// verifyLayer checks that the layer holds exactly want (and their parent
// directories), owned by root, with the modes and contents given.
func verifyLayer(r io.Reader, want []file) error {
	byName := map[string]file{}
	for _, f := range want {
		byName[f.path[1:]] = f
	}
	seen := map[string]bool{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("layer: %w", err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			return fmt.Errorf("%s is owned by %d:%d, want root, so that the operator cannot rewrite it", h.Name, h.Uid, h.Gid)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		f, ok := byName[h.Name]
		if !ok || h.Typeflag != tar.TypeReg {
			return fmt.Errorf("unexpected entry %q (type %c) in the layer", h.Name, h.Typeflag)
		}
		if h.Mode != f.mode {
			return fmt.Errorf("%s has mode %o, want %o", h.Name, h.Mode, f.mode)
		}
		got, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if !bytes.Equal(got, f.data) {
			return fmt.Errorf("%s differs from its source (%d bytes, want %d)", h.Name, len(got), len(f.data))
		}
		seen[h.Name] = true
	}
	var missing []string
	for name := range byName {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("missing from the layer: %s", strings.Join(missing, ", "))
	}
	return nil
}

// verifyStatic checks that binary is a statically linked ELF executable for
// arch: there is no dynamic loader in the image, and a dynamic binary would
// fail to start with a confusing "no such file or directory".
func verifyStatic(binary []byte, arch string) error {
	ef, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		return fmt.Errorf("the binary is not an ELF executable: %w", err)
	}
	defer ef.Close()
	if want, ok := elfMachines[arch]; !ok || ef.Machine != want {
		return fmt.Errorf("the binary is for %v, not %s", ef.Machine, arch)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("the binary is dynamically linked (build it with CGO_ENABLED=0)")
		}
	}
	return nil
}

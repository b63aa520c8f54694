package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Limits bound what Read takes from a bundle, checked before anything is
// allocated for an entry.
type Limits struct {
	// Compressed is the most bytes read from the file itself.
	Compressed int64
	// Total is the most bytes of all entries together, uncompressed.
	Total int64
	// Entry is the most bytes of one entry.
	Entry int64
	// Entries is the most entries.
	Entries int
	// Ratio is the most uncompressed bytes per compressed byte, checked
	// once more than a mebibyte has been unpacked.
	Ratio int64
}

// DefaultLimits hold the largest community the API admits with room to
// spare: 1,000 Instances (quota maximum), 100 policies of 5,000 entries
// with 1,000-character comments (~11 MB of YAML each, compressing ~10×).
var DefaultLimits = Limits{
	Compressed: 64 << 20,
	Total:      256 << 20,
	Entry:      16 << 20,
	Entries:    1 + 1 + 1000 + 100 + 1,
	Ratio:      200,
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Read reads a bundle. With identities, the secrets are decrypted (and
// Read fails if none of them can); without, they stay sealed and
// Bundle.Secrets is nil (for --dry-run without the key).
func Read(r io.Reader, identities []age.Identity, lim Limits) (*Bundle, error) {
	in := &countingReader{r: io.LimitReader(r, lim.Compressed+1)}
	zr, err := gzip.NewReader(in)
	if err != nil {
		return nil, fmt.Errorf("not a bundle (a .tar.gz written by fedcommons community export): %w", err)
	}
	zr.Multistream(false)
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	var order []string
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, tooLarge(in, lim, fmt.Errorf("damaged bundle: %w", err))
		}
		if len(order) >= lim.Entries {
			return nil, fmt.Errorf("refused: the bundle holds more than %d entries", lim.Entries)
		}
		if err := checkEntry(hdr, files, len(order) == 0); err != nil {
			return nil, err
		}
		if hdr.Size > lim.Entry {
			return nil, fmt.Errorf("refused: entry %s is %d bytes, more than the %d a bundle entry may have", hdr.Name, hdr.Size, lim.Entry)
		}
		if total += hdr.Size; total > lim.Total {
			return nil, fmt.Errorf("refused: the bundle unpacks to more than %d bytes", lim.Total)
		}
		data := make([]byte, hdr.Size)
		if _, err := io.ReadFull(tr, data); err != nil {
			return nil, tooLarge(in, lim, fmt.Errorf("damaged bundle: entry %s: %w", hdr.Name, err))
		}
		if total > 1<<20 && total > lim.Ratio*in.n {
			return nil, fmt.Errorf("refused: the bundle unpacks to more than %d times its compressed size (a decompression bomb?)", lim.Ratio)
		}
		files[hdr.Name] = data
		order = append(order, hdr.Name)
	}
	if in.n > lim.Compressed {
		return nil, fmt.Errorf("refused: the bundle file is larger than %d bytes", lim.Compressed)
	}
	return decode(files, identities, lim)
}

// tooLarge names the size limit when reading stopped at it.
func tooLarge(in *countingReader, lim Limits, err error) error {
	if in.n > lim.Compressed {
		return fmt.Errorf("refused: the bundle file is larger than %d bytes", lim.Compressed)
	}
	return err
}

// checkEntry refuses anything but a plain file of a name a bundle may
// hold, each once, the manifest first.
func checkEntry(hdr *tar.Header, seen map[string][]byte, first bool) error {
	name := hdr.Name
	if hdr.Typeflag != tar.TypeReg {
		return fmt.Errorf("refused: entry %q is not a regular file (type %q): a bundle holds only files, never links or devices", name, hdr.Typeflag)
	}
	if strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || path.Clean(name) != name ||
		name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") {
		return fmt.Errorf("refused: entry %q has a path that leaves the bundle or is not canonical", name)
	}
	if _, dup := seen[name]; dup {
		return fmt.Errorf("refused: entry %s appears twice", name)
	}
	if first != (name == manifestFile) {
		return fmt.Errorf("refused: %s must be the bundle's first entry, and only that (found %s)", manifestFile, name)
	}
	switch dir, file := path.Split(name); {
	case dir == "" && (file == manifestFile || file == communityFile || file == secretsFile):
	case (dir == instancesDir || dir == policiesDir) && strings.HasSuffix(file, ".yaml") && dnsName.MatchString(strings.TrimSuffix(file, ".yaml")):
	default:
		return fmt.Errorf("refused: unexpected entry %q (a bundle holds manifest.yaml, community.yaml, instances/NAME.yaml, policies/NAME.yaml, secrets.age)", name)
	}
	return nil
}

// decode turns the files into a Bundle, checking them against the manifest.
func decode(files map[string][]byte, identities []age.Identity, lim Limits) (*Bundle, error) {
	b := &Bundle{}
	if err := yaml.UnmarshalStrict(files[manifestFile], &b.Manifest); err != nil {
		return nil, fmt.Errorf("manifest.yaml: %w", err)
	}
	if v := b.Manifest.FormatVersion; v != FormatVersion {
		return nil, fmt.Errorf("refused: this bundle is format version %d; this fedcommons reads version %d only (use the fedcommons release that wrote it, or a newer one)", v, FormatVersion)
	}
	want := map[string]bool{manifestFile: true, communityFile: true, secretsFile: true}
	for _, e := range b.Manifest.Instances {
		want[instancesDir+e.Name+".yaml"] = true
	}
	for _, p := range b.Manifest.Policies {
		want[policiesDir+p+".yaml"] = true
	}
	for name := range files {
		if !want[name] {
			return nil, fmt.Errorf("refused: entry %s is not listed in the manifest", name)
		}
	}
	for name := range want {
		if _, ok := files[name]; !ok {
			return nil, fmt.Errorf("refused: the manifest lists %s, which the bundle does not hold", name)
		}
	}
	b.Community = &v1alpha1.Community{}
	if err := object(files, communityFile, "Community", b.Community); err != nil {
		return nil, err
	}
	for _, e := range b.Manifest.Instances {
		var in v1alpha1.Instance
		if err := object(files, instancesDir+e.Name+".yaml", "Instance", &in); err != nil {
			return nil, err
		}
		b.Instances = append(b.Instances, in)
	}
	for _, name := range b.Manifest.Policies {
		var p v1alpha1.FederationPolicy
		if err := object(files, policiesDir+name+".yaml", "FederationPolicy", &p); err != nil {
			return nil, err
		}
		b.Policies = append(b.Policies, p)
	}
	if identities != nil {
		secrets, err := open(files[secretsFile], identities, lim.Entry)
		if err != nil {
			return nil, err
		}
		b.Secrets = secrets
	}
	if err := b.check(); err != nil {
		return nil, fmt.Errorf("refused: %w", err)
	}
	return b, nil
}

// object decodes one YAML object of kind, refusing unknown fields.
func object(files map[string][]byte, name, kind string, into runtime.Object) error {
	if err := yaml.UnmarshalStrict(files[name], into); err != nil {
		return fmt.Errorf("refused: %s: %w", name, err)
	}
	gvk := into.GetObjectKind().GroupVersionKind()
	if gvk.GroupVersion() != v1alpha1.GroupVersion || gvk.Kind != kind {
		return fmt.Errorf("refused: %s holds a %s, not a %s/%s", name, gvk, v1alpha1.GroupVersion, kind)
	}
	return nil
}

// open decrypts secrets.age with the identities.
func open(sealed []byte, identities []age.Identity, max int64) ([]corev1.Secret, error) {
	r, err := age.Decrypt(bytes.NewReader(sealed), identities...)
	if err != nil {
		var none *age.NoIdentityMatchError
		if errors.As(err, &none) {
			return nil, errors.New("the identity cannot open this bundle's secrets: they were encrypted to other keys (see recipients in its manifest.yaml); give the private key matching one of them with --identity")
		}
		return nil, fmt.Errorf("secrets.age: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("secrets.age: %w", err)
	}
	defer clear(plain)
	if int64(len(plain)) > max {
		return nil, fmt.Errorf("refused: secrets.age decrypts to more than %d bytes", max)
	}
	var list secretList
	if err := yaml.UnmarshalStrict(plain, &list); err != nil {
		return nil, fmt.Errorf("secrets.age: %w", err)
	}
	if list.Items == nil {
		list.Items = []corev1.Secret{}
	}
	return list.Items, nil
}

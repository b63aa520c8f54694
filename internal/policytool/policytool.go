// Package policytool computes, from FederationPolicy manifests and without
// a cluster, what the operator would: the effective policy, why a domain is
// or is not blocked, and what a change to a policy would change. It is what
// `fedcommons policy explain|diff` runs, so that a moderator can review a
// change (a pull request to a GitOps repository, a new subscription) before
// it reaches any server.
//
// Sources are resolved as the operator resolves them: url sources are
// fetched with the same Fetcher (size, time and address limits) and parsed
// with the same parsers. A policyRef source names a policy computed inside
// a cluster; offline it can be given as a file (the published feed), and
// otherwise contributes nothing, which is said in the notes.
//
// It also runs `fedcommons policy fork` (fork*.go): a published list read
// the same way, made a FederationPolicy of one's own entries that the API
// server will take.
package policytool

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Manifests are the objects of interest read from YAML files.
type Manifests struct {
	Policies  []v1alpha1.FederationPolicy
	Instances []v1alpha1.Instance
}

// maxManifestBytes bounds one manifest file: policies are hand-written, and
// a multi-megabyte one is a mistake (a feed given where a manifest goes).
const maxManifestBytes = 8 << 20

// Load reads YAML files of one or more documents and keeps the
// FederationPolicies and Instances (the Instances' domains are protected,
// as the operator protects every Instance domain of the cluster). Other
// kinds are skipped; a document that is not YAML, or a fedcommons object
// with unknown fields, is an error naming the file and document.
func Load(paths ...string) (*Manifests, error) {
	m := &Manifests{}
	for _, path := range paths {
		data, err := readBounded(path, maxManifestBytes)
		if err != nil {
			return nil, err
		}
		if err := m.add(path, data); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Manifests) add(path string, data []byte) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", path, doc, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(raw, &meta); err != nil {
			return fmt.Errorf("%s: document %d is not YAML: %w", path, doc, err)
		}
		if meta.APIVersion != v1alpha1.GroupVersion.String() {
			continue
		}
		switch meta.Kind {
		case "FederationPolicy":
			var p v1alpha1.FederationPolicy
			if err := yaml.UnmarshalStrict(raw, &p); err != nil {
				return fmt.Errorf("%s: document %d: FederationPolicy: %w", path, doc, err)
			}
			m.Policies = append(m.Policies, p)
		case "Instance":
			var i v1alpha1.Instance
			if err := yaml.UnmarshalStrict(raw, &i); err != nil {
				return fmt.Errorf("%s: document %d: Instance: %w", path, doc, err)
			}
			m.Instances = append(m.Instances, i)
		}
	}
}

// Policy returns the policy called name, or the only one when name is "".
func (m *Manifests) Policy(name string) (*v1alpha1.FederationPolicy, error) {
	var names []string
	for i := range m.Policies {
		if m.Policies[i].Name == name || (name == "" && len(m.Policies) == 1) {
			return &m.Policies[i], nil
		}
		names = append(names, m.Policies[i].Name)
	}
	switch {
	case len(m.Policies) == 0:
		return nil, errors.New("no FederationPolicy (apiVersion " + v1alpha1.GroupVersion.String() + ") in the manifests")
	case name == "":
		return nil, fmt.Errorf("several FederationPolicies (%s): choose one with --policy", strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("no FederationPolicy %q in the manifests (there are: %s)", name, strings.Join(names, ", "))
}

// Resolver resolves a policy's sources: it is the CLI's
// federation.SourceResolver, the operator's being its Subscriptions and
// Registry. One Resolver fetches each url once, so the two sides of a diff
// see the same copy of a list they share.
type Resolver struct {
	// Fetcher fetches url sources; nil leaves them unresolved.
	Fetcher *feeds.Fetcher
	// Files gives sources as local files, by source name: a policyRef's
	// published feed, or a list to use instead of fetching its url. The
	// format is the source's own, or for a policyRef taken from the file
	// name (.csv Mastodon CSV, .json GoToSocial JSON, else plain text).
	Files map[string]string

	fetched map[string]federation.Resolution
	// read holds, during one Compute, the sources read from Files ahead of
	// time, by fileKey.
	read map[string]federation.Resolution
}

var _ federation.SourceResolver = (*Resolver)(nil)

// Computed is a policy's effective policy and how each source was resolved.
type Computed struct {
	Policy *moderation.Policy
	// Notes say, source by source, where its entries came from.
	Notes []string
}

// Compute merges the policy as the operator would, protecting the
// domains of the given Instances.
func (r *Resolver) Compute(ctx context.Context, p *v1alpha1.FederationPolicy, instances []v1alpha1.Instance) (*Computed, error) {
	r.read = r.readFiles(p)
	defer func() { r.read = nil }()
	sources := federation.ResolveSources(ctx, p, r)
	notes := make([]string, 0, len(sources))
	for _, s := range sources {
		if s.Waiting != "" {
			// Unlike the operator, there is no last good copy to fall back
			// on, and counting the list as empty would show every entry it
			// holds as removed: stop instead.
			return nil, fmt.Errorf("source %s: %s (give it as a file with --source %s=FILE)", s.Name, s.Waiting, s.Name)
		}
		notes = append(notes, s.Name+": "+s.Note)
	}
	eff, err := moderation.Merge(federation.Input(p, federation.Resolved(sources), federation.ProtectedDomains(asAdmitted(instances))))
	if err != nil {
		return nil, fmt.Errorf("FederationPolicy %s: %w", p.Name, err)
	}
	return &Computed{Policy: eff, Notes: notes}, nil
}

// URL implements federation.SourceResolver: the source's file if given,
// else one fetch through the operator's own path (FetchSource, with the
// Tracker's limits), as the operator's first fetch of the source would.
func (r *Resolver) URL(ctx context.Context, sub feeds.Subscription) federation.Resolution {
	if path, ok := r.Files[sub.Name]; ok {
		return r.fromFile(path, sub.Format)
	}
	if r.Fetcher == nil {
		return federation.Resolution{Note: "url " + sub.URL + " not fetched; it counts as listing nothing"}
	}
	key := string(sub.Format) + " " + sub.URL
	if f, ok := r.fetched[key]; ok {
		return f
	}
	res := feeds.FetchSource(ctx, r.Fetcher, feeds.NewTracker(), sub.Source)
	var f federation.Resolution
	if res.Outcome.Error != "" {
		f.Waiting = res.Outcome.Error
	} else {
		f.Entries = make([]moderation.Entry, len(res.Effective))
		for i := range res.Effective {
			f.Entries[i] = res.Effective[i].Entry
		}
		f.Note = fmt.Sprintf("%d entries fetched from %s%s", len(f.Entries), sub.URL, problems(res.Problems, res.Skipped, res.ObfuscatedRows, res.Obfuscated))
	}
	if r.fetched == nil {
		r.fetched = map[string]federation.Resolution{}
	}
	r.fetched[key] = f
	return f
}

// PolicyRef implements federation.SourceResolver: a policy computed in a
// cluster is read from its published feed given as a file, or not at all.
func (r *Resolver) PolicyRef(_ context.Context, name string, ref types.NamespacedName) federation.Resolution {
	if path, ok := r.Files[name]; ok {
		return r.fromFile(path, formatOfFile(path))
	}
	return federation.Resolution{Note: fmt.Sprintf("policyRef %s/%s is computed in the cluster: not resolved (give its published feed with --source %s=FILE); it counts as listing nothing",
		ref.Namespace, ref.Name, name)}
}

// readFiles reads and parses, in parallel, the sources of p given as
// files: parsing is most of what explain costs on large lists (ten lists
// of 100,000 rows: issue 16 item 4), each file is parsed on its own, and
// the results are the same whatever the order. At most GOMAXPROCS files
// are held and parsed at once.
func (r *Resolver) readFiles(p *v1alpha1.FederationPolicy) map[string]federation.Resolution {
	type job struct {
		path   string
		format moderation.Format
	}
	jobs := map[string]job{}
	for _, s := range p.Spec.Sources {
		path, ok := r.Files[s.Name]
		if !ok {
			continue
		}
		format := formatOfFile(path)
		if s.URL != "" {
			format = federation.Subscription(p, s).Format
		}
		jobs[fileKey(path, format)] = job{path, format}
	}
	out := make(map[string]federation.Resolution, len(jobs))
	if len(jobs) < 2 {
		return out // nothing to overlap: read where resolved
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for key, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			res := readFile(j.path, j.format)
			<-sem
			mu.Lock()
			out[key] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func fileKey(path string, format moderation.Format) string { return string(format) + " " + path }

// fromFile is the source read from path, by readFiles or now.
func (r *Resolver) fromFile(path string, format moderation.Format) federation.Resolution {
	if res, ok := r.read[fileKey(path, format)]; ok {
		return res
	}
	return readFile(path, format)
}

// readFile parses the list in path with moderation.ParseSeekable: a CSV
// list is read in chunks without copying its rows (issue 16 item 4), and
// read again as a stream, as a fetched body is, only when it is broken
// or beyond a cap. The parser's MaxBytes bounds what is read (a file that
// grows while read included), and the file is never held whole.
func readFile(path string, format moderation.Format) federation.Resolution {
	f, err := os.Open(path)
	if err != nil {
		return federation.Resolution{Waiting: err.Error()}
	}
	defer f.Close()
	var size int64
	regular := false
	if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
		if size = info.Size(); size > feeds.DefaultMaxBytes {
			return federation.Resolution{Waiting: fmt.Sprintf("%s: larger than %d MiB", path, feeds.DefaultMaxBytes>>20)}
		}
		regular = true
	}
	opts := moderation.ParseOptions{MaxBytes: feeds.DefaultMaxBytes, SizeHint: size, SortByDomain: true}
	var parsed *moderation.ParseResult
	if regular {
		parsed, err = moderation.ParseSeekable(format, f, opts)
	} else { // a pipe cannot be read twice
		parsed, err = moderation.ParseWithOptions(format, f, opts)
	}
	if err != nil {
		return federation.Resolution{Waiting: fmt.Sprintf("%s is not a readable %s list: %v", path, format, err)}
	}
	return federation.Resolution{
		ResolvedSource: federation.ResolvedSource{Entries: parsed.Entries},
		Note:           fmt.Sprintf("%d entries from %s (%s)%s", len(parsed.Entries), path, format, problems(parsed.Problems, parsed.Skipped, parsed.ObfuscatedRows, parsed.Obfuscated)),
	}
}

// problems says which rows of a list were not read, and why: the first
// few of each kind by line, then how many more (issue 15: "130 obfuscated,
// 1 rows skipped" left the reader to guess which).
func problems(skipped []moderation.Problem, nSkipped int, obfuscated []moderation.Problem, nObfuscated int) string {
	var parts []string
	if nSkipped > 0 {
		parts = append(parts, fmt.Sprintf("%s skipped (%s)", countRows(nSkipped), rows(skipped, nSkipped, true)))
	}
	if nObfuscated > 0 {
		parts = append(parts, fmt.Sprintf("%s left out because the domain is starred out and cannot be matched to a server (%s)",
			countRows(nObfuscated), rows(obfuscated, nObfuscated, false)))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}

// namedRows is how many rows of each kind a note names.
const namedRows = 3

func rows(ps []moderation.Problem, total int, why bool) string {
	var out []string
	for _, p := range ps[:min(len(ps), namedRows)] {
		s := fmt.Sprintf("line %d %q", p.Line, p.Record)
		if why {
			s += ": " + p.Reason
		}
		out = append(out, s)
	}
	s := strings.Join(out, "; ")
	if n := total - len(out); n > 0 {
		s += fmt.Sprintf(" …and %d more", n)
	}
	return s
}

func countRows(n int) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

func formatOfFile(path string) moderation.Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return moderation.FormatMastodonCSV
	case ".json":
		return moderation.FormatGoToSocialJSON
	}
	return moderation.FormatPlain
}

// WriteExplain writes, for each domain, why it is or is not blocked.
func WriteExplain(w io.Writer, c *Computed, domains []string) error {
	for i, d := range domains {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintln(w, c.Policy.Explain(d).String()); err != nil {
			return err
		}
	}
	return nil
}

// Change is one domain whose effective entry differs between two policies.
type Change struct {
	Domain string
	// Old and New are nil when the domain has no entry on that side.
	Old, New *moderation.EffectiveEntry
}

// Diff lists the domains whose effective entry differs, in domain order:
// added, removed, or with another action, flags or public comment (what a
// server would be sent).
func Diff(old, new *moderation.Policy) []Change {
	var changes []Change
	i, j := 0, 0
	for i < len(old.Entries) || j < len(new.Entries) {
		switch {
		case j == len(new.Entries) || (i < len(old.Entries) && old.Entries[i].Domain < new.Entries[j].Domain):
			changes = append(changes, Change{Domain: old.Entries[i].Domain, Old: &old.Entries[i]})
			i++
		case i == len(old.Entries) || new.Entries[j].Domain < old.Entries[i].Domain:
			changes = append(changes, Change{Domain: new.Entries[j].Domain, New: &new.Entries[j]})
			j++
		default:
			if sent(old.Entries[i].Entry) != sent(new.Entries[j].Entry) {
				changes = append(changes, Change{Domain: new.Entries[j].Domain, Old: &old.Entries[i], New: &new.Entries[j]})
			}
			i++
			j++
		}
	}
	return changes
}

// sent is what a server would hold of an entry; the private comment (the
// provenance summary) is left out, so a change of wording in why is not a
// change of what.
func sent(e moderation.Entry) moderation.Entry {
	e = e.Canonical()
	e.PrivateComment = ""
	return e
}

// WriteDiff writes the changes, one line each with the reason for the new
// entry, and a summary line.
func WriteDiff(w io.Writer, old, new *moderation.Policy) error {
	changes := Diff(old, new)
	added, removed, changed := 0, 0, 0
	var b strings.Builder
	for _, c := range changes {
		switch {
		case c.Old == nil:
			added++
			fmt.Fprintf(&b, "+ %s: %s (%s)\n", c.Domain, c.New.Describe(), c.New.Summary())
		case c.New == nil:
			removed++
			fmt.Fprintf(&b, "- %s: was %s (%s)\n", c.Domain, c.Old.Describe(), c.Old.Summary())
		default:
			changed++
			what := c.Old.Describe() + " → " + c.New.Describe()
			if c.Old.Describe() == c.New.Describe() {
				what = c.New.Describe() + ", public comment " + quote(c.Old.PublicComment) + " → " + quote(c.New.PublicComment)
			}
			fmt.Fprintf(&b, "~ %s: %s (%s)\n", c.Domain, what, c.New.Summary())
		}
	}
	fmt.Fprintf(&b, "%d added, %d removed, %d changed; %d entries before, %d after\n",
		added, removed, changed, len(old.Entries), len(new.Entries))
	_, err := io.WriteString(w, b.String())
	return err
}

func quote(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}

// WriteNotes writes where each source's entries came from, and the
// rejected entries by reason, so a reader knows what the answer rests on.
func WriteNotes(w io.Writer, c *Computed) error {
	var b strings.Builder
	for _, n := range c.Notes {
		b.WriteString("source ")
		b.WriteString(n)
		b.WriteByte('\n')
	}
	if len(c.Policy.Rejected) > 0 {
		reasons := map[string]int{}
		for _, r := range c.Policy.Rejected {
			reasons[r.Reason]++
		}
		keys := make([]string, 0, len(reasons))
		for k := range reasons {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "%d entries refused:\n", len(c.Policy.Rejected))
		for _, k := range keys {
			fmt.Fprintf(&b, "  %d × %s\n", reasons[k], k)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Sized from the file's size, so a large list is read into one buffer
	// rather than grown into one; still never more than limit+1 bytes.
	var buf bytes.Buffer
	if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
		buf.Grow(int(min(info.Size(), limit) + bytes.MinRead))
	}
	_, err = buf.ReadFrom(io.LimitReader(f, limit+1))
	data := buf.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, limit>>20)
	}
	return data, nil
}

// asAdmitted marks Instances read from manifests as the operator's
// reconciler would once it let them in: only admitted Instances protect
// their names (federation.Admitted), and manifests carry no status. Names
// outside a Community's domains are the reviewer's to spot; the operator
// would refuse them.
func asAdmitted(instances []v1alpha1.Instance) []v1alpha1.Instance {
	out := make([]v1alpha1.Instance, len(instances))
	for i, inst := range instances {
		inst.Status = v1alpha1.InstanceStatus{ObservedGeneration: max(inst.Generation, 1)}
		out[i] = inst
	}
	return out
}

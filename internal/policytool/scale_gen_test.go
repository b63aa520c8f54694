package policytool

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

// The generator below writes what issue 16 item 4 measures: a policy
// subscribed to ten Mastodon CSV lists of 100,000 domains each (about
// 53 MB), shaped like the published lists under shared/data/blocklists
// but deterministic by seed, so the lists are committed as code, not data.

// genTLDs mixes single-label TLDs with multi-label ICANN suffixes (co.uk,
// com.au, ne.jp), a private suffix real lists block under (workers.dev is
// private in the PSL, github.io too), and IDN TLDs in both spellings.
var genTLDs = []string{
	"social", "com", "net", "org", "xyz", "online", "club", "de", "co.uk", "jp",
	"com.au", "ne.jp", "fr", "io", "dev", "space", "workers.dev", "github.io", "рф", "xn--p1ai",
}

var genWords = []string{"fedi", "toot", "masto", "pleroma", "social", "meow", "cafe", "shitpost", "nazi", "spam", "bot", "relay", "misskey", "akko", "gts", "town"}

// genIDN are labels that need IDNA: Unicode, mixed case Unicode, and
// some already in punycode.
var genIDN = []string{"bücher", "münchen", "straße", "café", "ÉCOLE", "日本語", "пример", "xn--bcher-kva", "xn--mnchen-3ya"}

var genComments = []string{
	"", "", "", "Spam", "Hate speech", "Harassment", "Inappropriate content", "iftas:csam",
	"Unmanaged spam, no moderation", `Hosts "free speech" absolutists`, "racism, transphobia, harassment",
	`=HYPERLINK("x")`, "  padded comment  ", "Ban evasion; see #42", "spam\r\nmore spam",
}

// genDomain names domain i of the universe: a stable identity, written
// differently by each list (see genSpelling).
func genDomain(i int) string {
	var b strings.Builder
	if i%3 == 2 {
		b.WriteString(genWords[(i/3)%len(genWords)])
		b.WriteString(strconv.Itoa(i % 7))
		b.WriteByte('.')
	}
	if i%41 == 0 {
		b.WriteString(genIDN[(i/41)%len(genIDN)])
		b.WriteByte('.')
	}
	b.WriteString(genWords[i%len(genWords)])
	b.WriteByte('-')
	b.WriteString(strconv.Itoa(i))
	b.WriteByte('.')
	b.WriteString(genTLDs[(i/7)%len(genTLDs)])
	return b.String()
}

// genSpelling writes a domain as a sloppy publisher would: upper case,
// trailing dot, surrounding space, a leading "*.", or in Unicode where
// the domain has an IDN label; the normalised name is the same.
func genSpelling(rng *rand.Rand, d string) string {
	switch r := rng.IntN(100); {
	case r < 4:
		return strings.ToUpper(d)
	case r < 7:
		return d + "."
	case r < 9:
		return " " + d + " "
	case r < 11:
		return "*." + d
	case r < 13:
		if u, err := idna.ToUnicode(d); err == nil {
			return u
		}
	}
	return d
}

const (
	genLists   = 10
	genPerList = 100_000
	// genShared is the part of each list drawn from a pool all lists
	// draw from: about 30% of a list's domains are on others too.
	genShared = 30
)

// writeGeneratedLists writes n lists of size rows each into dir, plus
// policy.yaml subscribing to them, and returns the manifest path and the
// --source files.
func writeGeneratedLists(t testing.TB, dir string, seed uint64, n, size int) (string, map[string]string) {
	t.Helper()
	files := map[string]string{}
	var manifest strings.Builder
	manifest.WriteString(`apiVersion: fedcommons.io/v1alpha1
kind: FederationPolicy
metadata:
  name: scale
  namespace: riverside
spec:
  entries:
    - domain: spam.example
      action: suspend
  exceptions:
    - ` + genDomain(30) + `
  sources:
`)
	pool := size * 2 // the shared pool: each list takes 30% of its rows from it
	for l := range n {
		name := "list-" + strconv.Itoa(l)
		path := filepath.Join(dir, name+".csv")
		files[name] = path
		fmt.Fprintf(&manifest, "    - name: %s\n      url: https://lists.example/%s.csv\n      format: mastodon-csv\n      weight: %d\n", name, name, 1+l%3)
		if err := writeGeneratedList(path, rand.New(rand.NewPCG(seed, uint64(l))), l, size, pool); err != nil {
			t.Fatal(err)
		}
	}
	manifest.WriteString("  consensus:\n    threshold:\n      weight: 2\n")
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(manifest.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return policy, files
}

func writeGeneratedList(path string, rng *rand.Rand, list, size, pool int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<16)
	w := csv.NewWriter(bw)
	if err := w.Write([]string{"#domain", "#severity", "#reject_media", "#reject_reports", "#public_comment", "#obfuscate"}); err != nil {
		return err
	}
	seen := make(map[int]bool, size)
	own := pool + list*size*2 // each list's own range of the universe
	for rows := 0; rows < size; rows++ {
		var i int
		for {
			if rng.IntN(100) < genShared {
				i = rng.IntN(pool)
			} else {
				i = own + rng.IntN(size*2)
			}
			if !seen[i] {
				break
			}
		}
		seen[i] = true
		domain := genSpelling(rng, genDomain(i))
		switch r := rng.IntN(10_000); {
		case r < 10: // Mastodon's obfuscated export
			domain = domain[:1] + "**" + domain[min(3, len(domain)):]
		case r < 13: // junk a hand-edited list carries
			domain = "https://" + domain + "/about"
		case r < 15:
			domain = "host:" + strconv.Itoa(i)
		case r < 17: // a public suffix, which Merge refuses
			domain = genTLDs[r%len(genTLDs)]
		}
		severity := "suspend"
		switch r := rng.IntN(100); {
		case r < 15:
			severity = "silence"
		case r < 18:
			severity = "noop"
		}
		if err := w.Write([]string{
			domain, severity,
			strconv.FormatBool(rng.IntN(5) == 0), strconv.FormatBool(rng.IntN(10) == 0),
			genComments[rng.IntN(len(genComments))],
			strconv.FormatBool(rng.IntN(10) == 0),
		}); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

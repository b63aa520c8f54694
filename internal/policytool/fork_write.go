package policytool

import (
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// forkManifest is what a fork writes of the policy: what a person would,
// without the empty status and creationTimestamp a whole object carries.
type forkManifest struct {
	APIVersion string                        `json:"apiVersion"`
	Kind       string                        `json:"kind"`
	Metadata   forkMeta                      `json:"metadata"`
	Spec       v1alpha1.FederationPolicySpec `json:"spec"`
}

type forkMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// WriteForkManifest writes the fork as YAML, after comments saying where
// it comes from. The same list read the same way gives the same bytes.
func WriteForkManifest(w io.Writer, f *Forked) error {
	p := f.Policy
	out, err := yaml.Marshal(forkManifest{APIVersion: p.APIVersion, Kind: p.Kind,
		Metadata: forkMeta{Name: p.Name, Namespace: p.Namespace, Annotations: p.Annotations}, Spec: p.Spec})
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by fedcommons policy fork from %s\n", f.Origin)
	fmt.Fprintf(&b, "# read on %s as %s (format from %s), %s.\n", f.FetchedAt.Format("2006-01-02T15:04:05Z"), f.Format, f.FormatFrom, f.Version)
	fmt.Fprintf(&b, "# %d entries, now this policy's own decisions; %d refused (fork lists them on stderr).\n", len(p.Spec.Entries), len(f.LeftOut))
	b.Write(out)
	_, err = io.WriteString(w, b.String())
	return err
}

// WriteForkReport says, for the person forking, what was read and what
// was left out, entry by entry with the reason.
func WriteForkReport(w io.Writer, f *Forked) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Read %s as %s (format from %s): %d entries kept, %d refused%s.\n",
		f.Origin, f.Format, f.FormatFrom, len(f.Policy.Spec.Entries), len(f.LeftOut),
		problems(nil, 0, f.Parsed.ObfuscatedRows, f.Parsed.Obfuscated))
	if f.Format == moderation.FormatGoToSocialJSON || f.Format == moderation.FormatPlain {
		fmt.Fprintf(&b, "Note: %s lists suspensions only; if the publisher also silences or rejects media, fork its Mastodon CSV (.csv) to keep those.\n", f.Format)
	}
	if f.Compact {
		fmt.Fprintf(&b, "So many entries: each private comment says where it comes from in short; the annotations %s and %s say it in full.\n",
			AnnotationForkedFrom, AnnotationForkedCopy)
	}
	if n := len(f.Parsed.CutComments); n > 0 {
		fmt.Fprintf(&b, "%d public comments were longer than %d bytes: each is cut, and its private comment holds what followed.\n", n, moderation.MaxCommentBytes)
	}
	if len(f.Parsed.Problems) > 0 {
		b.WriteString("Rows not read:\n")
		for _, p := range f.Parsed.Problems {
			fmt.Fprintf(&b, "  %s\n", p)
		}
		if n := f.Parsed.Skipped - len(f.Parsed.Problems); n > 0 {
			fmt.Fprintf(&b, "  …and %d more\n", n)
		}
	}
	if len(f.LeftOut) > 0 {
		b.WriteString("Left out (the operator would refuse them):\n")
		for _, l := range f.LeftOut {
			fmt.Fprintf(&b, "  %s: %s\n", l.Domain, l.Reason)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

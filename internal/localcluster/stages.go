package localcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// stageSources lists the kwok Stage files in binDir/kwok-stages.
func stageSources(binDir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(binDir, "kwok-stages", "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no kwok stage files in %s: build them with hack/k8s-assets.sh kwok",
			filepath.Join(binDir, "kwok-stages"))
	}
	sort.Strings(files)
	return files, nil
}

// writeStages copies each Stage file into dir in a form kwok accepts and
// returns the paths of the copies. Pods labelled as leaveRunning says are
// kept out of the pod-complete Stage.
func writeStages(sources []string, dir string, leaveRunning map[string]string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, src := range sources {
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		clean, n := normalizeStages(data)
		if n == 0 {
			return nil, fmt.Errorf("%s holds no kwok Stage", src)
		}
		if clean, err = leaveRunningIn(clean, leaveRunning); err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		dst := filepath.Join(dir, filepath.Base(src))
		if err := os.WriteFile(dst, clean, 0o644); err != nil {
			return nil, err
		}
		out = append(out, dst)
	}
	return out, nil
}

// normalizeStages keeps only the Stage documents of a YAML stream and joins
// them with "---" separators; it returns the result and how many Stages it
// holds.
//
// The files hack/k8s-assets.sh writes are kwok's kustomize directories
// concatenated with cat: a Kustomization followed by Stages with no "---"
// between them, which a YAML parser reads as one document with duplicate
// keys. A new document therefore starts at a "---" line or at a top-level
// "apiVersion:" line (a Stage's templates are block scalars, always
// indented, so they never match). Well-formed streams pass through intact.
func normalizeStages(data []byte) ([]byte, int) {
	var docs [][]string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			docs = append(docs, cur)
		}
		cur = nil
	}
	for _, line := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "---"):
			flush()
			continue
		case strings.HasPrefix(line, "apiVersion:") && hasKey(cur, "apiVersion:"):
			flush()
		}
		cur = append(cur, line)
	}
	flush()

	var b strings.Builder
	n := 0
	for _, doc := range docs {
		if !isStage(doc) {
			continue
		}
		if n > 0 {
			b.WriteString("---\n")
		}
		b.WriteString(strings.TrimRight(strings.Join(doc, "\n"), "\n"))
		b.WriteByte('\n')
		n++
	}
	return []byte(b.String()), n
}

func hasKey(doc []string, prefix string) bool {
	for _, l := range doc {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func isStage(doc []string) bool {
	var kind, apiVersion string
	for _, l := range doc {
		if v, ok := strings.CutPrefix(l, "kind:"); ok {
			kind = strings.Trim(strings.TrimSpace(v), `"'`)
		}
		if v, ok := strings.CutPrefix(l, "apiVersion:"); ok {
			apiVersion = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return kind == "Stage" && strings.HasPrefix(apiVersion, "kwok.x-k8s.io/")
}

// completeMarker is the pod-complete Stage's selector on the pod's owner,
// as kwok's own Stage file writes it.
const completeMarker = "    - key: '.metadata.ownerReferences.[].kind'"

// leaveRunningIn adds to the pod-complete Stage (the one that marks a
// Job's pod Succeeded) one requirement per label: the label is not the
// value given. A pod without the label still matches (kwok's NotIn holds
// for a missing value). Files without that Stage pass unchanged; a
// pod-complete Stage whose selector is not written as expected is an
// error, never a silent no-op.
func leaveRunningIn(data []byte, leaveRunning map[string]string) ([]byte, error) {
	if len(leaveRunning) == 0 || !strings.Contains(string(data), "name: pod-complete\n") {
		return data, nil
	}
	keys := make([]string, 0, len(leaveRunning))
	for k := range leaveRunning {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var extra strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&extra, "    - key: '.metadata.labels.[\"%s\"]'\n      operator: 'NotIn'\n      values:\n      - '%s'\n", k, leaveRunning[k])
	}
	docs := strings.Split(string(data), "---\n")
	found := false
	for i, d := range docs {
		if !strings.Contains(d, "name: pod-complete\n") {
			continue
		}
		if !strings.Contains(d, completeMarker+"\n") {
			return nil, fmt.Errorf("the pod-complete Stage has no %q requirement to add to", strings.TrimSpace(completeMarker))
		}
		docs[i] = strings.Replace(d, completeMarker+"\n", extra.String()+completeMarker+"\n", 1)
		found = true
	}
	if !found {
		return data, nil
	}
	return []byte(strings.Join(docs, "---\n")), nil
}

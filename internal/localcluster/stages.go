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
// returns the paths of the copies.
func writeStages(sources []string, dir string) ([]string, error) {
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

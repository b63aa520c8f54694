//go:build scale

package scale

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// section renders one benchmark's part of the report from the JSON files
// its runs wrote (raw, in file-name order) into dir. It returns Markdown;
// it may write images into dir and link them by file name.
type section struct {
	title  string
	order  int
	render func(dir string, runs [][]byte) (string, error)
}

// sections are the report's parts, by the "benchmark" field of the JSON
// files. A benchmark of this package adds its own in an init func.
var sections = map[string]section{}

// TestScaleReport writes report.md (and the plots) into the report
// directory from every JSON file there: `make bench-scale` runs it after
// the benchmarks, and it can be run again alone to re-render.
func TestScaleReport(t *testing.T) {
	cfg, err := loadConfig()
	must(t, err)
	md, err := renderReport(cfg.ReportDir)
	must(t, err)
	path := filepath.Join(cfg.ReportDir, "report.md")
	must(t, os.WriteFile(path, []byte(md), 0o644))
	t.Logf("wrote %s:\n%s", path, md)
}

func renderReport(dir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	byBench := map[string][][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		var head struct {
			Benchmark string `json:"benchmark"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			return "", fmt.Errorf("%s: %w", f, err)
		}
		byBench[head.Benchmark] = append(byBench[head.Benchmark], data)
	}
	if len(byBench) == 0 {
		return "", fmt.Errorf("no benchmark results (*.json) in %s: run `make bench-scale` first", dir)
	}
	names := make([]string, 0, len(byBench))
	for name := range byBench {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := sections[names[i]], sections[names[j]]
		if a.order != b.order {
			return a.order < b.order
		}
		return names[i] < names[j]
	})
	var b strings.Builder
	b.WriteString("# Scale benchmark report\n\n")
	for _, name := range names {
		s, ok := sections[name]
		if !ok {
			fmt.Fprintf(&b, "## %s\n\n%d result file(s) of a benchmark this report does not know how to show.\n\n", name, len(byBench[name]))
			continue
		}
		md, err := s.render(dir, byBench[name])
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(&b, "## %s\n\n%s\n", s.title, md)
	}
	return b.String(), nil
}

// median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// fileWriter creates path; Close may be called twice.
func fileWriter(path string) (*onceCloser, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &onceCloser{File: f}, nil
}

type onceCloser struct {
	*os.File
	closed bool
	err    error
}

func (o *onceCloser) Close() error {
	if !o.closed {
		o.closed, o.err = true, o.File.Close()
	}
	return o.err
}

//go:build scale

package scale

import (
	"image/color"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// plotRollout draws, per variant, time to Ready (and the baseline) and
// peak RSS against the Instance count, side by side, into
// rollout.png in dir, and returns its file name.
func plotRollout(dir string, rows []rolloutRow) (string, error) {
	const name = "rollout.png"
	byLabel := map[string][]rolloutRow{}
	var labels []string
	for _, r := range rows {
		if _, ok := byLabel[r.label]; !ok {
			labels = append(labels, r.label)
		}
		byLabel[r.label] = append(byLabel[r.label], r)
	}
	sort.Strings(labels)

	ready := plot.New()
	ready.Title.Text = "Time until every Instance is Ready"
	ready.X.Label.Text = "Instances"
	ready.Y.Label.Text = "seconds"
	rss := plot.New()
	rss.Title.Text = "Operator peak RSS"
	rss.X.Label.Text = "Instances"
	rss.Y.Label.Text = "MiB"
	for _, p := range []*plot.Plot{ready, rss} {
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		p.Legend.Left = true
		p.Y.Min = 0
	}

	colors := []color.Color{
		color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
		color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	}
	baseDone := false
	for i, label := range labels {
		rs := byLabel[label]
		sort.Slice(rs, func(a, b int) bool { return rs[a].instances < rs[b].instances })
		readyXY, baseXY, rssXY := make(plotter.XYs, len(rs)), make(plotter.XYs, len(rs)), make(plotter.XYs, len(rs))
		for j, r := range rs {
			x := float64(r.instances)
			readyXY[j] = plotter.XY{X: x, Y: r.ready}
			baseXY[j] = plotter.XY{X: x, Y: r.baseline}
			rssXY[j] = plotter.XY{X: x, Y: r.rssMiB}
		}
		c := colors[i%len(colors)]
		if err := addLine(ready, readyXY, "operator ("+label+")", c, false); err != nil {
			return "", err
		}
		if !baseDone {
			// The baseline does not depend on the operator's settings.
			if err := addLine(ready, baseXY, "physical limit (plain apply)", color.Gray{Y: 0x70}, true); err != nil {
				return "", err
			}
			baseDone = true
		}
		if err := addLine(rss, rssXY, label, c, false); err != nil {
			return "", err
		}
	}
	target := plotter.NewFunction(func(float64) float64 { return 150 })
	target.Color = color.RGBA{R: 0xff, G: 0x7f, A: 0xff}
	target.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	rss.Add(target)
	rss.Legend.Add("target at 1,000: 150 MiB", target)
	rss.Y.Max = max(rss.Y.Max, 170)

	img := vgimg.New(vg.Points(900), vg.Points(360))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(20), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{{ready, rss}}, tiles, dc)
	ready.Draw(canvases[0][0])
	rss.Draw(canvases[0][1])
	w, err := fileWriter(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	defer w.Close()
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
		return "", err
	}
	return name, w.Close()
}

func addLine(p *plot.Plot, xys plotter.XYs, name string, c color.Color, dashed bool) error {
	l, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	l.Color, pts.Color = c, c
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l, pts)
	p.Legend.Add(name, l, pts)
	return nil
}

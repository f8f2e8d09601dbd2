package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The fleet chart: completion time / (S/B) against N, both axes log
// scale, drawn with gonum.org/v1/plot into a PNG.

var (
	colBlue  = color.RGBA{31, 95, 191, 255}
	colRed   = color.RGBA{200, 50, 40, 255}
	colPink  = color.RGBA{235, 150, 140, 255}
	colIdeal = color.RGBA{60, 150, 60, 255}
)

// The chart's size in pixels and the resolution it is rendered at.
const (
	plotWidthPx, plotHeightPx = 1000, 620
	plotDPI                   = 96
	legendWidthPx             = 300
)

// plotSeries is one line of the chart.
type plotSeries struct {
	label  string
	col    color.RGBA
	dashed bool
	width  vg.Length
	marker bool
	xys    plotter.XYs
}

// fleetPlotSeries returns the chart's lines: measured, for each mode the
// max and p50 completion ratio per N; bounds, the single-origin bound
// (N-R)/R and the ideal 1.0. Points a log scale cannot show (ratio <= 0)
// are left out.
func fleetPlotSeries(f *fleetResult, ns []int) (measured, bounds []plotSeries) {
	fc := f.cfg
	ideal := fc.ideal()
	add := func(mode, label string, col color.RGBA, dashed bool, stat func(*fleetRun) time.Duration) {
		s := plotSeries{label: label, col: col, dashed: dashed, width: 2.25, marker: true}
		for _, n := range ns {
			if r := f.run(mode, n); r != nil {
				if y := ratioOf(stat(r), ideal); y > 0 {
					s.xys = append(s.xys, plotter.XY{X: float64(n), Y: y})
				}
			}
		}
		if len(s.xys) > 0 {
			measured = append(measured, s)
		}
	}
	maxOf := func(r *fleetRun) time.Duration { return percentile(r.done, 100) }
	p50Of := func(r *fleetRun) time.Duration { return percentile(r.done, 50) }
	add("origin", "single-origin: max", colRed, false, maxOf)
	add("origin", "single-origin: p50", colRed, true, p50Of)
	add("p2p", "p2pglance: max", colBlue, false, maxOf)
	add("p2p", "p2pglance: p50", colBlue, true, p50Of)
	bound := plotSeries{label: fmt.Sprintf("holders only: (N-%d)/%d", fc.replicas, fc.replicas), col: colPink, dashed: true, width: 1.5}
	idealS := plotSeries{label: "ideal: S/B", col: colIdeal, width: 1.5}
	for _, n := range ns {
		if y := float64(n-fc.replicas) / float64(fc.replicas); y > 0 {
			bound.xys = append(bound.xys, plotter.XY{X: float64(n), Y: y})
		}
		idealS.xys = append(idealS.xys, plotter.XY{X: float64(n), Y: 1})
	}
	for _, s := range []plotSeries{bound, idealS} {
		if len(s.xys) > 0 {
			bounds = append(bounds, s)
		}
	}
	return measured, bounds
}

// writeFleetPlot draws completion time / (S/B) against N for both modes,
// with the ideal (1.0) and the single-origin bound (N-R)/R, as a PNG at
// path. The legend sits to the right of the plot.
func writeFleetPlot(path string, f *fleetResult) error {
	fc := f.cfg
	ns := slices.Clone(fc.nodes)
	slices.Sort(ns)
	measured, bounds := fleetPlotSeries(f, ns)
	// Bounds first, measured lines on top; the legend lists them the
	// other way round.
	drawn := slices.Concat(bounds, measured)
	listed := slices.Concat(measured, bounds)

	p := plot.New()
	p.Title.Text = fmt.Sprintf("one image to every node: S=%s, B=%s/s, R=%d", size(fc.size), size(fc.upBW), fc.replicas)
	p.X.Label.Text = "fleet size N (nodes, log scale)"
	p.Y.Label.Text = "completion time / (S/B), log scale"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Title.TextStyle.Font.Size = vg.Points(15)
	p.Title.Padding = vg.Points(12)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(14)
		a.Tick.Label.Font.Size = vg.Points(12)
	}

	// Axes ranges, log2 both ways: a quarter doubling around the fleet
	// sizes, whole powers of two (and a margin) around the ratios.
	p.X.Min = float64(ns[0]) * math.Pow(2, -0.25)
	p.X.Max = float64(ns[len(ns)-1]) * math.Pow(2, 0.25)
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for _, s := range drawn {
		for _, xy := range s.xys {
			ylo, yhi = math.Min(ylo, xy.Y), math.Max(yhi, xy.Y)
		}
	}
	p.Y.Min = math.Pow(2, math.Floor(math.Log2(ylo))-0.15)
	p.Y.Max = math.Pow(2, math.Ceil(math.Log2(yhi))+0.15)

	var xt, yt plot.ConstantTicks
	for _, n := range ns {
		xt = append(xt, plot.Tick{Value: float64(n), Label: fmt.Sprint(n)})
	}
	for e := math.Ceil(math.Log2(p.Y.Min)); e <= math.Log2(p.Y.Max); e++ {
		v := math.Pow(2, e)
		yt = append(yt, plot.Tick{Value: v, Label: fmt.Sprintf("%gx", v)})
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = xt, yt
	grid := plotter.NewGrid()
	grid.Horizontal.Color = color.Gray{Y: 225}
	grid.Vertical.Color = color.Gray{Y: 225}
	grid.Horizontal.Width, grid.Vertical.Width = vg.Points(1), vg.Points(1)
	p.Add(grid)

	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.ThumbnailWidth = vg.Points(30)
	legend.Padding = vg.Points(8)
	legend.TextStyle.Font.Size = vg.Points(13)
	thumbs := make(map[string][]plot.Thumbnailer)
	for _, s := range drawn {
		line, err := plotter.NewLine(s.xys)
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.label, err)
		}
		line.Color, line.Width = s.col, s.width
		if s.dashed {
			line.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
		}
		p.Add(line)
		thumbs[s.label] = []plot.Thumbnailer{line}
		if s.marker {
			pts, err := plotter.NewScatter(s.xys)
			if err != nil {
				return fmt.Errorf("plot %s: %w", s.label, err)
			}
			pts.Shape, pts.Color, pts.Radius = draw.CircleGlyph{}, s.col, vg.Points(3.5)
			p.Add(pts)
			thumbs[s.label] = append(thumbs[s.label], pts)
		}
	}
	for _, s := range listed {
		legend.Add(s.label, thumbs[s.label]...)
	}

	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / plotDPI }
	img := vgimg.NewWith(vgimg.UseWH(px(plotWidthPx), px(plotHeightPx)), vgimg.UseDPI(plotDPI))
	dc := draw.New(img)
	pad := vg.Points(10)
	p.Draw(draw.Crop(dc, pad, -px(legendWidthPx), pad, -pad))
	legend.Draw(draw.Crop(dc, px(plotWidthPx-legendWidthPx)+pad, -pad, pad, -5*pad))

	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(fh); err != nil {
		fh.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

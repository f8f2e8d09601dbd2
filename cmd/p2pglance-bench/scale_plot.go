package main

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The scale chart: six panels, each figure against N with its
// least-squares line (dashed) and the slope in the legend.

var (
	colGreen  = color.RGBA{40, 140, 60, 255}
	colOrange = color.RGBA{220, 120, 20, 255}
	colGray   = color.RGBA{110, 110, 110, 255}
)

// scalePanel is one panel: a title, a y label and its series (metric
// keys with their colours).
type scalePanel struct {
	title, ylabel string
	series        []scaleSeries
}

type scaleSeries struct {
	key string
	col color.RGBA
}

var scalePanels = []scalePanel{
	{"time until every agent is in", "seconds", []scaleSeries{{"join", colBlue}, {"restart", colRed}}},
	{"idle CPU", "millicores", []scaleSeries{{"idle-median", colBlue}, {"idle-max", colOrange}, {"idle-leader", colRed}}},
	{"memory per agent (idle)", "MiB", []scaleSeries{{"rss-median", colBlue}, {"anon-median", colGreen}, {"file-median", colGray}, {"rss-max", colOrange}}},
	{"write visible on every agent", "ms", []scaleSeries{{"vis-p50", colBlue}, {"vis-p99", colOrange}, {"vis-max", colRed}}},
	{"creates/s through one agent", "creates/s", []scaleSeries{{"creates", colBlue}}},
	{"full restart: leader egress / snapshot", "ratio", []scaleSeries{{"egress", colBlue}}},
}

func metricByKey(key string) scaleMetric {
	for _, m := range scaleMetrics {
		if m.key == key {
			return m
		}
	}
	panic("no scale metric " + key)
}

// scalePanelPlot draws one panel.
func scalePanelPlot(res *scaleResult, p scalePanel) (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = p.title
	pl.X.Label.Text = "agents N"
	pl.Y.Label.Text = p.ylabel
	pl.Title.TextStyle.Font.Size = vg.Points(13)
	pl.X.Label.TextStyle.Font.Size = vg.Points(11)
	pl.Y.Label.TextStyle.Font.Size = vg.Points(11)
	pl.Legend.Top, pl.Legend.Left = true, true
	pl.Legend.TextStyle.Font.Size = vg.Points(9)
	pl.Y.Min = 0
	grid := plotter.NewGrid()
	grid.Horizontal.Color, grid.Vertical.Color = color.Gray{Y: 225}, color.Gray{Y: 225}
	pl.Add(grid)
	var xs []float64
	for _, r := range res.runs {
		xs = append(xs, float64(r.n))
	}
	for _, s := range p.series {
		m := metricByKey(s.key)
		x, y := res.points(m)
		if len(x) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(x))
		for i := range x {
			xys[i] = plotter.XY{X: x[i], Y: y[i]}
		}
		pts, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		pts.Shape, pts.Color, pts.Radius = draw.CircleGlyph{}, s.col, vg.Points(3)
		pl.Add(pts)
		label := m.label
		if f, ok := fitLine(x, y); ok {
			lo, hi := x[0], x[0]
			for _, v := range x {
				lo, hi = min(lo, v), max(hi, v)
			}
			line, err := plotter.NewLine(plotter.XYs{{X: lo, Y: f.intercept + f.slope*lo}, {X: hi, Y: f.intercept + f.slope*hi}})
			if err != nil {
				return nil, err
			}
			line.Color, line.Width, line.Dashes = s.col, vg.Points(1.5), []vg.Length{vg.Points(5), vg.Points(3)}
			pl.Add(line)
			label = fmt.Sprintf("%s (%s/agent)", m.label, signed(f.slope))
		}
		pl.Legend.Add(label, pts)
	}
	if len(xs) > 0 {
		var ticks plot.ConstantTicks
		for _, x := range xs {
			ticks = append(ticks, plot.Tick{Value: x, Label: fmt.Sprint(x)})
		}
		pl.X.Tick.Marker = ticks
		lo, hi := xs[0], xs[0]
		for _, v := range xs {
			lo, hi = min(lo, v), max(hi, v)
		}
		pad := max((hi-lo)*0.08, 2)
		pl.X.Min, pl.X.Max = lo-pad, hi+pad
	}
	// Room above the highest point for the legend.
	pl.Y.Max = max(pl.Y.Max*1.35, 1e-9)
	return pl, nil
}

// writeScalePlot draws every panel, three per row, into a PNG at path.
func writeScalePlot(path string, res *scaleResult) error {
	const cols = 3
	rows := (len(scalePanels) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i, p := range scalePanels {
		pl, err := scalePanelPlot(res, p)
		if err != nil {
			return fmt.Errorf("plot %s: %w", p.title, err)
		}
		grid[i/cols] = append(grid[i/cols], pl)
	}
	for len(grid[rows-1]) < cols {
		grid[rows-1] = append(grid[rows-1], nil)
	}
	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / plotDPI }
	img := vgimg.NewWith(vgimg.UseWH(px(1500), px(900)), vgimg.UseDPI(plotDPI))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(18), PadY: vg.Points(18),
		PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	canvases := plot.Align(grid, tiles, dc)
	for r := range grid {
		for c, pl := range grid[r] {
			if pl != nil {
				pl.Draw(canvases[r][c])
			}
		}
	}
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

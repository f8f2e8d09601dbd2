package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"
)

// The fleet chart: completion time / (S/B) against N, both axes log2,
// drawn with the standard library only (image/png and a small built-in
// 5x7 bitmap font), so it needs nothing outside this repository.

var (
	colWhite  = color.RGBA{255, 255, 255, 255}
	colBlack  = color.RGBA{0, 0, 0, 255}
	colGrid   = color.RGBA{225, 225, 225, 255}
	colBlue   = color.RGBA{31, 95, 191, 255}
	colRed    = color.RGBA{200, 50, 40, 255}
	colPink   = color.RGBA{235, 150, 140, 255}
	colIdeal  = color.RGBA{60, 150, 60, 255}
	colAxis   = color.RGBA{90, 90, 90, 255}
	colMarker = color.RGBA{0, 0, 0, 255}
)

// canvas is an RGBA image with simple drawing helpers.
type canvas struct{ img *image.RGBA }

func newCanvas(w, h int) *canvas {
	c := &canvas{img: image.NewRGBA(image.Rect(0, 0, w, h))}
	c.fill(0, 0, w, h, colWhite)
	return c
}

func (c *canvas) fill(x0, y0, x1, y1 int, col color.RGBA) {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			c.img.SetRGBA(x, y, col)
		}
	}
}

// dot paints a size x size square centred on (x, y).
func (c *canvas) dot(x, y, size int, col color.RGBA) {
	h := size / 2
	c.fill(x-h, y-h, x-h+size, y-h+size, col)
}

// line draws from (x0,y0) to (x1,y1), width px wide; dash > 0 draws
// dash pixels on, dash off.
func (c *canvas) line(x0, y0, x1, y1 float64, width int, dash int, col color.RGBA) {
	dx, dy := x1-x0, y1-y0
	steps := int(math.Max(math.Abs(dx), math.Abs(dy))) + 1
	for i := 0; i <= steps; i++ {
		if dash > 0 && (i/dash)%2 == 1 {
			continue
		}
		t := float64(i) / float64(steps)
		c.dot(int(math.Round(x0+t*dx)), int(math.Round(y0+t*dy)), width, col)
	}
}

// glyphs is a 5x7 bitmap font: upper-case letters, digits and the
// punctuation the chart uses (lower case is drawn as upper case).
var glyphs = map[rune][7]string{
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	',': {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."},
	':': {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
	'/': {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."},
	'(': {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')': {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	'=': {".....", ".....", "#####", ".....", "#####", ".....", "....."},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'+': {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	'%': {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"},
	'<': {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."},
	'>': {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."},
	' ': {".....", ".....", ".....", ".....", ".....", ".....", "....."},
}

// textWidth is the width in pixels of s drawn at scale.
func textWidth(s string, scale int) int { return len([]rune(s)) * 6 * scale }

// text draws s with its top-left corner at (x, y); vertical draws it
// rotated a quarter turn counter-clockwise, (x, y) then being its
// bottom-left corner.
func (c *canvas) text(x, y int, s string, scale int, vertical bool, col color.RGBA) {
	pos := 0
	for _, r := range strings.ToUpper(s) {
		g, ok := glyphs[unicode.ToUpper(r)]
		if !ok {
			g = glyphs['-']
		}
		for gy, row := range g {
			for gx, px := range row {
				if px != '#' {
					continue
				}
				if vertical {
					c.fill(x+gy*scale, y-(pos+gx+1)*scale, x+(gy+1)*scale, y-(pos+gx)*scale, col)
				} else {
					c.fill(x+(pos+gx)*scale, y+gy*scale, x+(pos+gx+1)*scale, y+(gy+1)*scale, col)
				}
			}
		}
		pos += 6
	}
}

// plotSeries is one line of the chart.
type plotSeries struct {
	label  string
	col    color.RGBA
	dash   int
	width  int
	marker bool
	xs, ys []float64
}

// writeFleetPlot draws completion time / (S/B) against N for both modes,
// with the ideal (1.0) and the single-origin bound (N-R)/R.
func writeFleetPlot(path string, f *fleetResult) error {
	fc := f.cfg
	ideal := fc.ideal()
	ns := slices.Clone(fc.nodes)
	slices.Sort(ns)
	var series []plotSeries
	add := func(mode, label string, col color.RGBA, dash int, stat func(*fleetRun) time.Duration) {
		s := plotSeries{label: label, col: col, dash: dash, width: 3, marker: true}
		for _, n := range ns {
			if r := f.run(mode, n); r != nil {
				s.xs = append(s.xs, float64(n))
				s.ys = append(s.ys, ratioOf(stat(r), ideal))
			}
		}
		if len(s.xs) > 0 {
			series = append(series, s)
		}
	}
	maxOf := func(r *fleetRun) time.Duration { return percentile(r.done, 100) }
	p50Of := func(r *fleetRun) time.Duration { return percentile(r.done, 50) }
	add("origin", "single-origin: max", colRed, 0, maxOf)
	add("origin", "single-origin: p50", colRed, 8, p50Of)
	add("p2p", "p2pglance: max", colBlue, 0, maxOf)
	add("p2p", "p2pglance: p50", colBlue, 8, p50Of)
	bound := plotSeries{label: fmt.Sprintf("holders only: (N-%d)/%d", fc.replicas, fc.replicas), col: colPink, dash: 4, width: 2}
	idealS := plotSeries{label: "ideal: S/B", col: colIdeal, dash: 0, width: 2}
	for _, n := range ns {
		bound.xs = append(bound.xs, float64(n))
		bound.ys = append(bound.ys, float64(n-fc.replicas)/float64(fc.replicas))
		idealS.xs = append(idealS.xs, float64(n))
		idealS.ys = append(idealS.ys, 1)
	}
	series = append(series, bound, idealS)

	const (
		w, h                 = 1000, 620
		left, right          = 110, 330
		top, bottom          = 70, 90
		scale                = 2
		plotW, plotH         = w - left - right, h - top - bottom
		legendX, legendLineW = w - right + 30, 40
	)
	c := newCanvas(w, h)
	// Axes ranges, log2 both ways.
	xmin, xmax := math.Log2(float64(ns[0]))-0.25, math.Log2(float64(ns[len(ns)-1]))+0.25
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, y := range s.ys {
			if y > 0 {
				ylo, yhi = math.Min(ylo, y), math.Max(yhi, y)
			}
		}
	}
	ymin := math.Floor(math.Log2(ylo)) - 0.15
	ymax := math.Ceil(math.Log2(yhi)) + 0.15
	px := func(x float64) float64 { return left + (math.Log2(x)-xmin)/(xmax-xmin)*plotW }
	py := func(y float64) float64 { return top + plotH - (math.Log2(y)-ymin)/(ymax-ymin)*plotH }

	// Grid and tick labels.
	for e := math.Ceil(ymin); e <= ymax; e++ {
		v := math.Pow(2, e)
		y := int(py(v))
		c.line(left, float64(y), left+plotW, float64(y), 1, 0, colGrid)
		lbl := fmt.Sprintf("%gX", v)
		c.text(left-12-textWidth(lbl, scale), y-7, lbl, scale, false, colBlack)
	}
	for _, n := range ns {
		x := int(px(float64(n)))
		c.line(float64(x), top, float64(x), top+plotH, 1, 0, colGrid)
		lbl := fmt.Sprint(n)
		c.text(x-textWidth(lbl, scale)/2, top+plotH+12, lbl, scale, false, colBlack)
	}
	c.line(left, top, left, top+plotH, 2, 0, colAxis)
	c.line(left, top+plotH, left+plotW, top+plotH, 2, 0, colAxis)
	xl := "fleet size N (nodes, log scale)"
	c.text(left+(plotW-textWidth(xl, scale))/2, top+plotH+45, xl, scale, false, colBlack)
	yl := "completion time / (S/B), log scale"
	c.text(18, top+(plotH+textWidth(yl, scale))/2, yl, scale, true, colBlack)
	title := fmt.Sprintf("one image to every node: S=%s, B=%s/s, R=%d", size(fc.size), size(fc.upBW), fc.replicas)
	c.text(left+(plotW-textWidth(title, scale))/2, 22, title, scale, false, colBlack)

	// Series: bounds first, measured lines on top.
	order := append(series[len(series)-2:], series[:len(series)-2]...)
	for _, s := range order {
		for i := 1; i < len(s.xs); i++ {
			c.line(px(s.xs[i-1]), py(s.ys[i-1]), px(s.xs[i]), py(s.ys[i]), s.width, s.dash, s.col)
		}
		if s.marker {
			for i := range s.xs {
				c.dot(int(px(s.xs[i])), int(py(s.ys[i])), 9, s.col)
				c.dot(int(px(s.xs[i])), int(py(s.ys[i])), 3, colMarker)
			}
		}
	}
	// Legend.
	ly := top + 10
	for _, s := range series {
		c.line(legendX, float64(ly+7), legendX+legendLineW, float64(ly+7), s.width, s.dash, s.col)
		if s.marker {
			c.dot(legendX+legendLineW/2, ly+7, 9, s.col)
		}
		c.text(legendX+legendLineW+10, ly, s.label, scale, false, colBlack)
		ly += 30
	}

	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(fh, c.img); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progressEvery is how often the progress bar is redrawn.
const progressEvery = 250 * time.Millisecond

// rateWindow is how far back the transfer rate of the bar looks.
const rateWindow = 5 * time.Second

// progress reports a fetch. On a terminal it redraws one line (label,
// percent, bar, bytes, rate, ETA) a few times a second; otherwise only the
// lines given to line are printed (the start and the final line).
type progress struct {
	out io.Writer
	bar bool

	cur atomic.Int64 // bytes done in the current phase, base included

	mu      sync.Mutex // guards the fields below and writes to out
	label   string
	total   int64
	samples []progressSample
	drawn   bool // a bar is on the line
	quit    chan struct{}
	wg      sync.WaitGroup
}

type progressSample struct {
	at time.Time
	n  int64
}

// isTerminal reports whether f is a character device: a terminal (or
// /dev/null, where a bar costs nothing).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newProgress(out io.Writer, bar bool, total int64) *progress {
	p := &progress{out: out, bar: bar, total: total}
	if bar {
		p.quit = make(chan struct{})
		p.wg.Add(1)
		go p.loop(p.quit)
	}
	return p
}

func (p *progress) loop(quit <-chan struct{}) {
	defer p.wg.Done()
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case now := <-t.C:
			p.mu.Lock()
			p.draw(now)
			p.mu.Unlock()
		}
	}
}

// phase starts counting a new stage of total bytes, base of them done.
func (p *progress) phase(label string, base, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label, p.total = label, total
	p.cur.Store(base)
	p.samples = []progressSample{{time.Now(), base}}
}

// add counts n more bytes done.
func (p *progress) add(n int64) { p.cur.Add(n) }

// line prints a line of its own (clearing the bar first).
func (p *progress) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.out, format+"\n", args...)
}

// stop ends the redrawing and clears the bar; it may be called again.
func (p *progress) stop() {
	p.mu.Lock()
	q := p.quit
	p.quit = nil
	p.mu.Unlock()
	if q == nil {
		return
	}
	close(q)
	p.wg.Wait()
	p.mu.Lock()
	p.clear()
	p.mu.Unlock()
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.out, "\r\x1b[K")
		p.drawn = false
	}
}

// draw redraws the bar; p.mu is held.
func (p *progress) draw(now time.Time) {
	cur := p.cur.Load()
	p.samples = append(p.samples, progressSample{now, cur})
	for len(p.samples) > 2 && now.Sub(p.samples[1].at) >= rateWindow {
		p.samples = p.samples[1:]
	}
	first := p.samples[0]
	rate := 0.0
	if dt := now.Sub(first.at).Seconds(); dt > 0 {
		rate = float64(cur-first.n) / dt
	}
	fmt.Fprint(p.out, "\r"+progressLine(p.label, cur, p.total, rate)+"\x1b[K")
	p.drawn = true
}

// progressLine renders one bar line, at most 80 columns.
func progressLine(label string, cur, total int64, rate float64) string {
	const width = 20
	frac := 1.0
	if total > 0 {
		frac = min(1, float64(cur)/float64(total))
	}
	filled := int(frac * width)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	eta := "--:--"
	if rate > 0 {
		eta = fmtETA(time.Duration(float64(total-cur) / rate * float64(time.Second)))
	}
	if label != "" {
		label += " "
	}
	return fmt.Sprintf("%s%3d%% [%s] %s / %s  %s/s  ETA %s",
		label, int(frac*100), bar, fmtBytes(cur), fmtBytes(total), fmtBytes(int64(rate)), eta)
}

// fmtBytes renders a byte count in decimal units (kB, MB, GB, TB).
func fmtBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		v /= 1000
		if v < 999.95 || u == "TB" {
			return fmt.Sprintf("%.1f %s", v, u)
		}
	}
	return "" // not reached
}

// fmtETA renders a remaining time as m:ss or h:mm:ss.
func fmtETA(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 100*3600 {
		return ">99h"
	}
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

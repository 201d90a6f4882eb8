package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress reports one file's upload: on a terminal a bar redrawn in
// place at most ten times a second, elsewhere (a CI log) a plain line at
// each quarter, and a last line saying what was sent.
type progress struct {
	w          io.Writer
	tty        bool
	name       string
	size       int64
	start      time.Time
	mu         sync.Mutex // Read runs in the transport's goroutine
	n          int64
	drawn      time.Time
	quarter    int64
	terminated bool
}

func newProgress(w io.Writer, tty bool, name string, size int64) *progress {
	return &progress{w: w, tty: tty, name: name, size: size, start: time.Now()}
}

func (p *progress) reader(r io.Reader) io.Reader { return progressReader{r, p} }

type progressReader struct {
	r io.Reader
	p *progress
}

func (pr progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.add(n)
	return n, err
}

func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminated {
		return
	}
	p.n += int64(n)
	switch {
	case p.tty && time.Since(p.drawn) >= 100*time.Millisecond:
		p.drawn = time.Now()
		fmt.Fprintf(p.w, "\r%s\033[K", p.bar())
	case !p.tty && p.size > 0:
		for q := p.n * 4 / p.size; p.quarter < q && p.quarter < 3; {
			p.quarter++
			fmt.Fprintf(p.w, "%s: %d%% sent\n", p.name, p.quarter*25)
		}
	}
}

// done ends the report and returns the bytes sent. Bytes the transport
// read but did not send are counted too; what matters is nought for a
// file the server held.
func (p *progress) done() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminated {
		return p.n
	}
	p.terminated = true
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	secs := time.Since(p.start).Seconds()
	switch {
	case p.n == 0 && p.size > 0:
		fmt.Fprintf(p.w, "%s: the server holds it already; not sent\n", p.name)
	default:
		fmt.Fprintf(p.w, "%s: sent %s in %.1f s (%s/s)\n", p.name, sizeText(p.n), secs, sizeText(int64(float64(p.n)/max(secs, 0.001))))
	}
	return p.n
}

// bar is the terminal's line: name, percentage, a bar, sizes and rate.
func (p *progress) bar() string {
	const width = 24
	frac := 1.0
	if p.size > 0 {
		frac = float64(p.n) / float64(p.size)
	}
	filled := int(frac * width)
	rate := float64(p.n) / max(time.Since(p.start).Seconds(), 0.001)
	return fmt.Sprintf("%s %3.0f%% [%s%s] %s/%s %s/s", p.name, frac*100, strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		sizeText(p.n), sizeText(p.size), sizeText(int64(rate)))
}

// sizeText writes a byte count for people.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

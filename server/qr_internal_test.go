package server

import (
	"bytes"
	"strings"
	"testing"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// The terminal QR code is the code's modules, two rows a line: every
// character is the right half block for the light modules above and
// below it, inside a two-module quiet zone.
func TestTerminalQR(t *testing.T) {
	const text = "http://192.168.1.20:8080/trust"
	var out bytes.Buffer
	if err := TerminalQR(&out, text); err != nil {
		t.Fatal(err)
	}
	qr, _ := qrcode.New(text)
	var m matrixCapture
	qr.Save(&m)
	dim := len(m.dark)
	light := func(x, y int) bool {
		x, y = x-2, y-2
		return x < 0 || y < 0 || x >= dim || y >= dim || !m.dark[y][x]
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != (dim+4+1)/2 {
		t.Fatalf("%d lines for %d modules", len(lines), dim)
	}
	for i, line := range lines {
		runes := []rune(line)
		if len(runes) != dim+4 {
			t.Fatalf("line %d has %d characters, want %d", i, len(runes), dim+4)
		}
		for x, r := range runes {
			want := map[[2]bool]rune{{true, true}: '█', {true, false}: '▀', {false, true}: '▄', {false, false}: ' '}[[2]bool{light(x, 2*i), light(x, 2*i+1)}]
			if r != want {
				t.Fatalf("line %d, column %d: %q, want %q", i, x, r, want)
			}
		}
	}
}

package server

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// qrSize is the reference's QR image size, in pixels.
const qrSize = 200

// qrPNG writes a size×size PNG of a QR code for text. go-qrcode encodes;
// the drawing is done here so that the image is exactly the size asked for:
// whole-pixel modules, centred, with at least the 4-module quiet zone that
// scanners need.
func qrPNG(w io.Writer, text string, size int) error {
	dark, err := qrModules(text)
	if err != nil {
		return err
	}
	dim := len(dark)
	block := size / (dim + 8)
	if block < 1 {
		return fmt.Errorf("qr: %d modules do not fit in %d pixels", dim, size)
	}
	offset := (size - dim*block) / 2
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y, row := range dark {
		for x, set := range row {
			if !set {
				continue
			}
			for dy := 0; dy < block; dy++ {
				for dx := 0; dx < block; dx++ {
					img.SetColorIndex(offset+x*block+dx, offset+y*block+dy, 1)
				}
			}
		}
	}
	return png.Encode(w, img)
}

// qrModules encodes text: dark[y][x] for each module.
func qrModules(text string) ([][]bool, error) {
	qr, err := qrcode.New(text)
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	var m matrixCapture
	if err := qr.Save(&m); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	return m.dark, nil
}

// matrixCapture is a qrcode.Writer that keeps the modules: dark[y][x].
type matrixCapture struct{ dark [][]bool }

func (m *matrixCapture) Write(mat qrcode.Matrix) error {
	m.dark = make([][]bool, mat.Height())
	for y := range m.dark {
		m.dark[y] = make([]bool, mat.Width())
	}
	mat.Iterate(qrcode.IterDirection_ROW, func(x, y int, v qrcode.QRValue) {
		m.dark[y][x] = v.IsSet()
	})
	return nil
}

func (m *matrixCapture) Close() error { return nil }

// TerminalQR writes a QR code for text as text for a terminal: two rows
// of modules a line in half blocks, light modules drawn (a terminal is
// dark; phones' cameras read the code either way), with a quiet zone.
func TerminalQR(w io.Writer, text string) error {
	dark, err := qrModules(text)
	if err != nil {
		return err
	}
	const quiet = 2
	dim := len(dark)
	light := func(x, y int) bool {
		x, y = x-quiet, y-quiet
		return x < 0 || y < 0 || x >= dim || y >= dim || !dark[y][x]
	}
	var b []byte
	for y := 0; y < dim+2*quiet; y += 2 {
		for x := 0; x < dim+2*quiet; x++ {
			top, bottom := light(x, y), light(x, y+1)
			switch {
			case top && bottom:
				b = append(b, "█"...)
			case top:
				b = append(b, "▀"...)
			case bottom:
				b = append(b, "▄"...)
			default:
				b = append(b, ' ')
			}
		}
		b = append(b, '\n')
	}
	_, err = w.Write(b)
	return err
}

package pkginfo

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
)

// Xcode "crushes" the PNGs of an app bundle into Apple's CgBI variant: an
// extra CgBI chunk first, the image data as raw deflate (no zlib header or
// checksum), pixels in BGRA order with premultiplied alpha. No browser
// shows it, so normalPNG turns it into a standard PNG.

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// normalPNG returns data as a standard PNG: unchanged if it is one,
// converted if it is CgBI. Images above maxPixels are refused before their
// pixels are inflated.
func normalPNG(data []byte, maxPixels int, mem *memBudget) (*Icon, error) {
	if !bytes.HasPrefix(data, pngSignature) {
		return nil, errors.New("not a PNG file")
	}
	chunks, err := pngChunks(data[len(pngSignature):])
	if err != nil {
		return nil, err
	}
	if len(chunks) == 0 || chunks[0].typ != "CgBI" {
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("broken PNG: %w", err)
		}
		if cfg.Width*cfg.Height > maxPixels {
			return nil, fmt.Errorf("%d×%d pixels is too large for an icon", cfg.Width, cfg.Height)
		}
		return &Icon{Data: data, MimeType: "image/png", Width: cfg.Width, Height: cfg.Height}, nil
	}
	img, err := decodeCgBI(chunks, maxPixels, mem)
	if err != nil {
		return nil, fmt.Errorf("CgBI PNG: %w", err)
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return nil, err
	}
	b := img.Bounds()
	return &Icon{Data: out.Bytes(), MimeType: "image/png", Width: b.Dx(), Height: b.Dy()}, nil
}

type pngChunk struct {
	typ  string
	data []byte
}

func pngChunks(b []byte) ([]pngChunk, error) {
	var out []pngChunk
	for len(b) > 0 {
		if len(b) < 12 {
			return nil, errors.New("truncated PNG chunk")
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-12) {
			return nil, errors.New("PNG chunk runs past the end of the file")
		}
		c := pngChunk{typ: string(b[4:8]), data: b[8 : 8+n]}
		out = append(out, c)
		b = b[12+n:]
		if c.typ == "IEND" {
			break
		}
	}
	return out, nil
}

func decodeCgBI(chunks []pngChunk, maxPixels int, mem *memBudget) (image.Image, error) {
	var (
		w, h    int
		idat    []io.Reader
		haveHdr bool
	)
	for _, c := range chunks {
		switch c.typ {
		case "IHDR":
			if len(c.data) != 13 {
				return nil, errors.New("bad IHDR")
			}
			w, h = int(binary.BigEndian.Uint32(c.data)), int(binary.BigEndian.Uint32(c.data[4:]))
			depth, color, interlace := c.data[8], c.data[9], c.data[12]
			// Xcode writes 8-bit RGBA (or RGB), never interlaced.
			if depth != 8 || (color != 6 && color != 2) || interlace != 0 {
				return nil, fmt.Errorf("unsupported format: depth %d, color type %d, interlace %d", depth, color, interlace)
			}
			if color == 2 {
				return nil, errors.New("unsupported format: CgBI without alpha")
			}
			haveHdr = true
		case "IDAT":
			idat = append(idat, bytes.NewReader(c.data))
		}
	}
	if !haveHdr || len(idat) == 0 {
		return nil, errors.New("no IHDR or IDAT")
	}
	if w <= 0 || h <= 0 || w > maxPixels/h {
		return nil, fmt.Errorf("%d×%d pixels is too large for an icon", w, h)
	}
	const bpp = 4
	// The inflated rows, the RGBA image and its PNG encoding.
	if err := mem.charge(int64(w) * int64(h) * 12); err != nil {
		return nil, err
	}
	stride := w * bpp
	raw := make([]byte, (stride+1)*h)
	zr := flate.NewReader(io.MultiReader(idat...))
	if _, err := io.ReadFull(zr, raw); err != nil {
		return nil, fmt.Errorf("image data: %w", err)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	prev := make([]byte, stride) // the row above the first is zeros
	for y := 0; y < h; y++ {
		row := raw[y*(stride+1)+1 : (y+1)*(stride+1)]
		if err := unfilter(raw[y*(stride+1)], row, prev, bpp); err != nil {
			return nil, err
		}
		out := img.Pix[y*img.Stride : y*img.Stride+stride]
		for x := 0; x < stride; x += 4 {
			b, g, r, a := row[x], row[x+1], row[x+2], row[x+3]
			out[x], out[x+1], out[x+2], out[x+3] = unpremultiply(r, a), unpremultiply(g, a), unpremultiply(b, a), a
		}
		prev = row
	}
	return img, nil
}

func unpremultiply(c, a byte) byte {
	if a == 0 || a == 255 {
		return c
	}
	v := (int(c)*255 + int(a)/2) / int(a)
	return byte(min(v, 255))
}

// unfilter reverses PNG filtering of one row in place (PNG spec, section 9).
func unfilter(filter byte, row, prev []byte, bpp int) error {
	switch filter {
	case 0:
	case 1: // Sub
		for i := bpp; i < len(row); i++ {
			row[i] += row[i-bpp]
		}
	case 2: // Up
		for i := range row {
			row[i] += prev[i]
		}
	case 3: // Average
		for i := range row {
			var left int
			if i >= bpp {
				left = int(row[i-bpp])
			}
			row[i] += byte((left + int(prev[i])) / 2)
		}
	case 4: // Paeth
		for i := range row {
			var a, c int
			if i >= bpp {
				a, c = int(row[i-bpp]), int(prev[i-bpp])
			}
			row[i] += paeth(a, int(prev[i]), c)
		}
	default:
		return fmt.Errorf("unknown row filter %d", filter)
	}
	return nil
}

func paeth(a, b, c int) byte {
	p := a + b - c
	pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
	switch {
	case pa <= pb && pa <= pc:
		return byte(a)
	case pb <= pc:
		return byte(b)
	}
	return byte(c)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

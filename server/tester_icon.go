package server

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Placeholder icons: Apple's deployment reference lists display-image and
// full-size-image as required assets of an OTA manifest, and a package
// without an icon has neither. Such a manifest points at a generated one:
// the app's initial on a plain square. The glyph is one of A-Z and 0-9 (any
// other initial is "?") at one of Apple's two sizes, so the route renders
// at most 74 images, each once.

// placeholderSizes are the sizes Apple names: display-image 57×57,
// full-size-image 512×512.
var placeholderSizes = map[string]int{"57": 57, "512": 512}

// placeholderGlyph is the glyph shown for an app's name.
func placeholderGlyph(name string) string {
	r, _ := utf8.DecodeRuneInString(strings.TrimSpace(name))
	r = unicode.ToUpper(r)
	if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
		return string(r)
	}
	return "_" // shown as "?"; "_" needs no escaping in a path
}

// placeholderPath is the path of the placeholder of name at size.
func placeholderPath(name string, size int) string {
	return "/icon/" + placeholderGlyph(name) + "/" + strconv.Itoa(size) + ".png"
}

var placeholders sync.Map // "G/size" → []byte

// placeholderIcon serves /icon/:glyph/:size.
func (s *Server) placeholderIcon(w http.ResponseWriter, r *http.Request, c *call) error {
	glyph := c.params.ByName("glyph")
	size, ok := placeholderSizes[strings.TrimSuffix(c.params.ByName("size"), ".png")]
	if !ok || len(glyph) != 1 || placeholderGlyph(glyph) != glyph {
		return errNotFound("icon")
	}
	k := glyph + "/" + strconv.Itoa(size)
	img, ok := placeholders.Load(k)
	if !ok {
		b, err := renderPlaceholder(glyph, size)
		if err != nil {
			return err
		}
		img, _ = placeholders.LoadOrStore(k, b)
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(img.([]byte))
	return nil
}

var placeholderFont = sync.OnceValues(func() (*opentype.Font, error) { return opentype.Parse(gobold.TTF) })

// renderPlaceholder draws glyph ("_" is "?") white on a square of a
// colour picked by the glyph.
func renderPlaceholder(glyph string, size int) ([]byte, error) {
	if glyph == "_" {
		glyph = "?"
	}
	palette := []color.RGBA{{0x2b, 0x6c, 0xb0, 0xff}, {0x2f, 0x85, 0x5a, 0xff}, {0x9c, 0x42, 0x21, 0xff}, {0x6b, 0x46, 0xc1, 0xff}, {0x2c, 0x7a, 0x7b, 0xff}, {0x97, 0x26, 0x6d, 0xff}}
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.Draw(img, img.Bounds(), &image.Uniform{palette[int(glyph[0])%len(palette)]}, image.Point{}, draw.Src)
	f, err := placeholderFont()
	if err != nil {
		return nil, err
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: float64(size) * 0.6, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, err
	}
	defer face.Close()
	d := &font.Drawer{Dst: img, Src: image.White, Face: face}
	bounds, _ := d.BoundString(glyph)
	wdt, hgt := bounds.Max.X-bounds.Min.X, bounds.Max.Y-bounds.Min.Y
	d.Dot = fixed.Point26_6{
		X: (fixed.I(size)-wdt)/2 - bounds.Min.X,
		Y: (fixed.I(size)-hgt)/2 - bounds.Min.Y,
	}
	d.DrawString(glyph)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

package report

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"math"
)

// The latency plot's points are drawn into a PNG at twice the plot's
// resolution (sharp on high-density screens) with a palette of the outcome
// colours, the same as style.css's --ok, --fail and --info; ok is
// translucent, as in the CSS, so fault shading shows through the bulk of
// the points. Outcomes are drawn ok, fail, info, so rare ones stay on top.

const (
	rasterScale  = 2
	rasterMargin = 4.0 // px around the data area, so edge markers are whole
)

var outcomePalette = color.Palette{
	color.NRGBA{},                       // transparent
	color.NRGBA{0x2b, 0x93, 0x48, 0x8c}, // ok, opacity .55
	color.NRGBA{0xd6, 0x28, 0x28, 0xff}, // fail
	color.NRGBA{0xf5, 0x9e, 0x0b, 0xff}, // info
}

// markerSprites are the pixels of each shape (read circle, write square,
// cas triangle, other diamond) around its centre, at raster scale: the same
// shapes writeMarker draws for the legend.
var markerSprites = func() [4][]image.Point {
	var out [4][]image.Point
	in := [4]func(x, y float64) bool{
		func(x, y float64) bool { return x*x+y*y <= 4.4 },                                      // circle r 2
		func(x, y float64) bool { return math.Abs(x) <= 2 && math.Abs(y) <= 2 },                // square 4
		func(x, y float64) bool { return y >= -3 && y <= 1.5 && math.Abs(x) <= 2.6*(y+3)/4.5 }, // triangle
		func(x, y float64) bool { return math.Abs(x)+math.Abs(y) <= 3 },                        // diamond
	}
	for s, inside := range in {
		for dy := -7; dy <= 7; dy++ {
			for dx := -7; dx <= 7; dx++ {
				// Pixel centres, in plot px.
				if inside((float64(dx)+0.5)/rasterScale, (float64(dy)+0.5)/rasterScale) {
					out[s] = append(out[s], image.Pt(dx, dy))
				}
			}
		}
	}
	return out
}()

// latencyPoints returns the base64 PNG of every completed op's point, or ""
// when there are none.
func latencyPoints(all []op, f *frame, y func(float64) float64) string {
	ox, oy := f.x0-rasterMargin, f.y0-rasterMargin
	w := int(math.Ceil((f.x1 - f.x0 + 2*rasterMargin) * rasterScale))
	h := int(math.Ceil((f.y1 - f.y0 + 2*rasterMargin) * rasterScale))
	img := image.NewPaletted(image.Rect(0, 0, w, h), outcomePalette)
	// Many ops land on the same pixel with the same look: draw each once.
	seen := make(map[uint64]struct{}, 1<<14)
	drawn := 0
	for ci, outcome := range outcomeOrder {
		for _, o := range all {
			if o.Outcome != outcome {
				continue
			}
			s := shapeOf(o.F)
			px := int((f.x(o.Start) - ox) * rasterScale)
			py := int((y(math.Max(float64(o.Latency())/1e6, 0.01)) - oy) * rasterScale)
			k := uint64(px)<<24 | uint64(py)<<8 | uint64(ci)<<4 | uint64(s)
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			for _, d := range markerSprites[s] {
				if p := image.Pt(px+d.X, py+d.Y); p.In(img.Rect) {
					img.Pix[img.PixOffset(p.X, p.Y)] = uint8(ci + 1)
				}
			}
			drawn++
		}
	}
	if drawn == 0 {
		return ""
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return "" // cannot happen for an in-memory paletted image
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

package tui

import (
	"os"
	"testing"

	"golang.org/x/image/font/sfnt"
)

// dejaVuMono is where Debian and Ubuntu put the most common monospace
// font of terminals and projector laptops (package fonts-dejavu-core).
const dejaVuMono = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"

// Every glyph the dashboard draws renders in DejaVu Sans Mono: no tofu on a
// projector. (It once drew ⧗, which the font lacks.)
func TestEveryGlyphRendersInDejaVuSansMono(t *testing.T) {
	data, err := os.ReadFile(dejaVuMono)
	if err != nil {
		t.Skipf("%s is not here; install fonts-dejavu-core to run this test", dejaVuMono)
	}
	font, err := sfnt.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	drawn := glyphs[:]
	drawn = append(drawn, "▶", "▲", "→", "…", "∞", "│", "█", "░", "–", "×", "≥", "▀", string(sparks))
	var buf sfnt.Buffer
	for _, g := range drawn {
		for _, r := range g {
			if i, err := font.GlyphIndex(&buf, r); err != nil || i == 0 {
				t.Errorf("%q (%U) has no glyph in DejaVu Sans Mono", r, r)
			}
		}
	}
}

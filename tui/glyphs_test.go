package tui

import (
	"os"
	"path/filepath"
	"strings"
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
	drawn = append(drawn, "▶", "▲", "→", "…", "∞", "│", "█", "░", "–", "×", "≥", "▀", "━", "▾", "↻", clippedGlyph, string(sparks))
	// And every character on every golden screen.
	files, _ := filepath.Glob(filepath.Join("testdata", "*.golden"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		drawn = append(drawn, strings.ReplaceAll(string(data), "\n", ""))
	}
	var buf sfnt.Buffer
	missing := map[rune]bool{}
	for _, g := range drawn {
		for _, r := range g {
			if i, err := font.GlyphIndex(&buf, r); (err != nil || i == 0) && !missing[r] {
				missing[r] = true
				t.Errorf("%q (%U) has no glyph in DejaVu Sans Mono", r, r)
			}
		}
	}
}

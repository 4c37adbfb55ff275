package record

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// The spool writes request records with the faster encoder, and the export
// copies those lines as they are; they must be the bytes encoding/json
// writes, or an export would differ with the store behind it. Random
// records probe what encoders disagree on: floats near the switch to
// exponent form, HTML and control characters, invalid UTF-8.
func TestSpoolLinesAreEncodingJSONBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 16))
	texts := []string{"", "ThrottlingException", "<b>&amp;</b>", "tab\there\nnew", "\u2028\u2029", "bad \xff\xfe utf-8", "quote \" and \\ slash", "emoji 🚀", "\x00\x1f"}
	text := func() string { return texts[rng.IntN(len(texts))] + texts[rng.IntN(len(texts))] }
	float := func() float64 {
		switch rng.IntN(6) {
		case 0:
			return 0
		case 1:
			return rng.Float64() * 1e-6 // exponent form below 1e-6
		case 2:
			return math.Round(rng.Float64()*1e9) / 1e3
		case 3:
			return rng.Float64() * 1e22 // and at 1e21 and above
		case 4:
			return -rng.Float64() * 1000
		}
		return float64(rng.IntN(100000)) / 7
	}
	sp, err := openSpool(t.TempDir(), RequestSpoolPattern)
	if err != nil {
		t.Fatal(err)
	}
	spooled := spooledStore{spool: sp}
	defer spooled.close()
	for i := range 5000 {
		q := Request{ID: i + 1, Tenant: text(), Outcome: text(), Deployment: text(), Region: text(), Fallback: rng.IntN(2) == 0,
			Retries: rng.IntN(3), StartMS: float(), EndMS: float(), LatencyMS: float(), Error: text(), Message: text(),
			InputTokens: rng.IntN(5000), MaxTokens: rng.IntN(5000), TTFTMS: float()}
		for range rng.IntN(3) {
			q.Attempts = append(q.Attempts, Attempt{Group: text(), Deployment: text(), Outcome: text(), StartMS: float(), EndMS: float(), Message: text()})
		}
		want, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		spooled.add(&q) // leaves the line it wrote in spooled.line
		if got := bytes.TrimSuffix(spooled.line.Bytes(), []byte("\n")); !bytes.Equal(got, want) {
			t.Fatalf("request %d:\nencoding/json %s\nspool         %s", q.ID, want, got)
		}
	}
}

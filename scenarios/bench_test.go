package scenarios

import (
	"fmt"
	"strings"
	"testing"
)

// adversarialInputs are documents within MaxFileSize built to cost the
// parser as much as possible. Each must be refused quickly; the figures
// are in the README.
func adversarialInputs() map[string]string {
	lines := func(n int, format string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, format, i)
		}
		return b.String()
	}
	return map[string]string{
		"inline tables 20k deep": deepForms[0].src(20_000),
		"arrays 2M deep":         deepForms[1].src(2_000_000),
		"dotted key 20k parts":   deepForms[2].src(20_000),
		"table header 20k parts": deepForms[3].src(20_000),
		"unknown keys 200k":      "[[scenario]]\nname = \"s\"\ntitle = \"t\"\n" + lines(200_000, "k%d = 1\n"),
		"unknown tables 200k":    lines(200_000, "[t%d]\n"),
		"empty scenarios 200k":   strings.Repeat("[[scenario]]\n", 200_000),
		"bad rpms 50k":           base + lines(50_000, "  [[scenario.deployment]]\n  name = \"d%d\"\n  model = \"m\"\n  rpm = 0\n"),
		"one 4 MB line":          "x = [" + strings.Repeat(`"\"", `, (MaxFileSize-10)/6) + "]\n",
		"unclosed brackets 4 MB": "x = " + strings.Repeat("[1,", (MaxFileSize-10)/3) + "\n",
		"an array over 1M lines": "x = [\n" + strings.Repeat("1, # ] [ \"\n", (MaxFileSize-20)/11) + "]\n",
		// Many names, and many references to them or to names that are not there.
		"20k missing deployments": base + "\n[[scenario.group]]\nname = \"g\"\ndeployments = [" + lines(20_000, "\"d%d\",") + "]\n" +
			lines(20_000, "[[scenario.deployment]]\nname = \"x%d\"\nmodel = \"m\"\nrpm = 1\n"),
		"10k tenants in 10k groups": base + lines(10_000, "[[scenario.group]]\nname = \"g%d\"\ndeployments = [\"dep-a\"]\n") +
			lines(10_000, "[[scenario.tenant]]\nname = \"t%d\"\nrpm = 1\nrequests = 1\ngroup = \"g9999\"\n"),
		"10k faults on 10k accounts": base + lines(10_000, "[[scenario.account]]\nname = \"a%d\"\n") +
			lines(10_000, "[[scenario.fault]]\nkind = \"throttle\"\nrate = 0.5\naccount = \"a9999\"\n"),
		// A long table name over many keys: the decoder stores each key's full path.
		"1 MB table name over 20k keys": `["` + strings.Repeat("n", 1<<20) + `"]` + "\n" + lines(20_000, "k%d = 1\n"),
		"longest table names, to the level limit": "[" + strings.Repeat(strings.Repeat("n", MaxKeyLength)+".", MaxNesting-2) + "n]\n" +
			lines(MaxKeyLevels/MaxNesting-100, "k%d = 1\n"),
		// Within every limit but MaxKeyLevels: refused before decoding.
		"keys nested 32 deep, 4 MiB":  lines(MaxFileSize/140, "x%d = "+strings.Repeat("{a=", MaxNesting-1)+"1"+strings.Repeat("}", MaxNesting-1)+"\n"),
		"dotted keys 32 parts, 4 MiB": lines(MaxFileSize/80, "x%d."+strings.Repeat("a.", MaxNesting-2)+"a = 1\n"),
		// Just within every limit: decoded, then refused for unknown keys.
		"keys nested 32 deep, at the level limit": lines(MaxKeyLevels/(MaxNesting*(MaxNesting+1)/2), "x%d = "+strings.Repeat("{a=", MaxNesting-1)+"1"+strings.Repeat("}", MaxNesting-1)+"\n"),
		"flat keys, 4 MiB":                        lines(MaxFileSize/12, "k%d=1\n"),
	}
}

func BenchmarkParseAdversarial(b *testing.B) {
	for name, src := range adversarialInputs() {
		if len(src) > MaxFileSize {
			b.Fatalf("%s: %d bytes, over MaxFileSize", name, len(src))
		}
		data := []byte(src)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				Parse("f.toml", data)
			}
		})
	}
}

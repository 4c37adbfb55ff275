package scenarios

import (
	"fmt"
	"strings"
	"testing"
)

// deepForm is a deeply nested document of one of the forms TOML allows. n
// is how many levels the form repeats; the deepest value then sits n+1
// levels down. key is how the error names the key being assigned.
type deepForm struct {
	name string
	src  func(n int) string
	key  string
}

var deepForms = []deepForm{
	{"inline tables", func(n int) string {
		return "x = " + strings.Repeat("{a=", n) + "1" + strings.Repeat("}", n) + "\n"
	}, "x"},
	{"arrays", func(n int) string {
		return "x = " + strings.Repeat("[", n) + "1" + strings.Repeat("]", n) + "\n"
	}, "x"},
	{"dotted key", func(n int) string { return strings.Repeat("a.", n) + "a = 1\n" }, "a.a.a.a"},
	{"table header", func(n int) string { return "[" + strings.Repeat("a.", n) + "a]\n" }, "a.a.a.a"},
	{"array-of-tables header", func(n int) string { return "[[" + strings.Repeat("a.", n) + "a]]\n" }, "a.a.a.a"},
	{"dotted keys in an inline table", func(n int) string {
		return "x = {" + strings.Repeat("a.", n-1) + "a = 1}\n"
	}, "x"},
}

// TestNestingTooDeep: absurd nesting is refused before the TOML decoder,
// which is quadratic in depth (20,000 inline tables took 13.8 GB and a
// minute) and overflows its stack on a few million arrays.
func TestNestingTooDeep(t *testing.T) {
	for _, form := range deepForms {
		for _, n := range []int{MaxNesting, 20_000} {
			t.Run(fmt.Sprintf("%s %d", form.name, n), func(t *testing.T) {
				es := parseErrs(t, form.src(n))
				if len(es) != 1 {
					t.Fatalf("want 1 error, got %d:\n%v", len(es), es)
				}
				e := es[0]
				want := fmt.Sprintf("nested %d levels deep; scenario files nest at most %d", n+1, MaxNesting)
				if e.Msg != want {
					t.Errorf("message %q, want %q", e.Msg, want)
				}
				checkErr(t, e, 1, 1)
				if !strings.HasPrefix(e.Key, form.key) {
					t.Errorf("Key = %q, want the key being assigned, %q", e.Key, form.key)
				}
				if len(e.Key) > 80 {
					t.Errorf("Key is %d bytes long; a long key should be shortened", len(e.Key))
				}
			})
		}
	}
}

// TestNestingMillionsOfArrays: two million nested arrays, within the size
// cap, crashed the decoder with a fatal stack overflow.
func TestNestingMillionsOfArrays(t *testing.T) {
	src := deepForms[1].src(2_000_000)
	if len(src) > MaxFileSize {
		t.Fatalf("the document is %d bytes, over MaxFileSize", len(src))
	}
	es := parseErrs(t, src)
	if want := "nested 2000001 levels deep"; !strings.HasPrefix(es[0].Msg, want) {
		t.Errorf("error %v, want %q", es[0], want)
	}
}

// TestNestingLimitIsExact: depth counts table-header parts, key parts and
// each array or inline table; MaxNesting itself is allowed.
func TestNestingLimitIsExact(t *testing.T) {
	// [scenario.gateway] is 2 levels, x is the 3rd, and each array one more.
	deep := func(arrays int) string {
		return base + "\n  [scenario.gateway]\n  x = " + strings.Repeat("[", arrays) + strings.Repeat("]", arrays) + "\n"
	}
	es := parseErrs(t, deep(MaxNesting-3))
	checkErr(t, findErr(t, es, "scenario.gateway.x", `unknown key "x"`), 37, 3)
	for _, e := range es {
		if strings.Contains(e.Msg, "nested") {
			t.Errorf("%d levels refused: %v", MaxNesting, e)
		}
	}

	es = parseErrs(t, deep(MaxNesting-2))
	if len(es) != 1 {
		t.Fatalf("want 1 error, got:\n%v", es)
	}
	e := findErr(t, es, "scenario.gateway.x", fmt.Sprintf("nested %d levels deep", MaxNesting+1))
	checkErr(t, e, 37, 3)
}

// TestNestingIgnoresStringsAndComments: brackets inside strings and
// comments do not nest, and the scan stays in step after every kind of
// string, so a deep value after one is still found.
func TestNestingIgnoresStringsAndComments(t *testing.T) {
	many := strings.Repeat("[{", 40)
	src := doc(t,
		"title = \"Minimal\"\n", "title = \"Minimal "+many+` \" `+many+"\" # "+many+"\n",
		"description = \"One of everything.\"\n", "description = \"\"\"\n"+many+"\n\\\"\"\" "+many+"\n ends with two quotes\"\"\"\"\"\n",
		"  name = \"acc\"\n", "  name = '"+many+"' # it's "+many+"\n  profile = '''\n"+many+"\n'' "+many+"'''''\n",
	)
	f := mustParse(t, src)
	if d := f.Scenarios[0].Description; !strings.HasSuffix(d, `ends with two quotes""`) {
		t.Errorf("description = %q", d)
	}

	deepValue := "[" + strings.Repeat("[", MaxNesting) + "1" + strings.Repeat("]", MaxNesting) + "]"
	for name, line := range map[string]string{
		"after an escaped backslash":    `x = ["a\\", ` + deepValue + "]",
		"after a literal backslash":     `x = ['a\', ` + deepValue + "]",
		"after an escaped quote":        `x = ["a\"", ` + deepValue + "]",
		"after a multi-line string":     "x = [\"\"\"a\n\"\" ]\"\"\", " + deepValue + "]",
		"after a multi-line literal":    "x = ['''a\n'' ]''', " + deepValue + "]",
		"after a comment with a quote":  "x = [ # it's\n" + deepValue + "]",
		"after a key with a bracket":    `"[x" = ` + deepValue,
		"on the line after a table":     "[t] # ]\nx = " + deepValue,
		"in an inline table in a table": "x = [{y = " + deepValue + "}]",
	} {
		t.Run(name, func(t *testing.T) {
			es := parseErrs(t, line+"\n")
			if len(es) != 1 || !strings.HasPrefix(es[0].Msg, "nested ") {
				t.Errorf("want one nesting error, got:\n%v", es)
			}
		})
	}
}

// TestKeyLevelsBounded: within MaxNesting, many nested keys still cost the
// decoder time and memory in proportion to their levels (a 4 MiB file of
// them took 17 s and 2.2 GB), so their sum is bounded too.
func TestKeyLevelsBounded(t *testing.T) {
	// Each line's keys span levels 1 to 32: 528 in all.
	line := func(i int) string {
		return fmt.Sprintf("x%d = %s1%s\n", i, strings.Repeat("{a=", MaxNesting-1), strings.Repeat("}", MaxNesting-1))
	}
	const perLine = MaxNesting * (MaxNesting + 1) / 2
	lines := MaxKeyLevels/perLine + 10
	var b strings.Builder
	for i := range lines {
		b.WriteString(line(i))
	}
	es := parseErrs(t, b.String())
	if len(es) != 1 {
		t.Fatalf("want 1 error, got %d:\n%v", len(es), es)
	}
	crossing := MaxKeyLevels/perLine + 1 // the first line that takes the sum over
	want := fmt.Sprintf("%d key levels in all (a key 3 levels deep counts 3), over the limit of %d; the file passes it here, so split the file or nest less",
		lines*perLine, MaxKeyLevels)
	e := findErr(t, es, fmt.Sprintf("x%d", crossing-1), want)
	checkErr(t, e, crossing, 1)
}

// TestKeyLengthBounded: the decoder stores each key's full dotted path, so
// one long table name over many keys cost it time and memory in their
// product (a 1 MB name over 20,000 keys: 113 s and 19.7 GB).
func TestKeyLengthBounded(t *testing.T) {
	long := strings.Repeat("n", MaxKeyLength+1)
	for name, c := range map[string]struct{ src, key string }{
		"quoted table name": {`["` + long[2:] + `"]` + "\nk = 1\n", `"` + long[2:] + `"`},
		"bare table name":   {"[scenario." + long + "]\n", "scenario." + long},
		"dotted key part":   {"a." + long + ".b = 1\n", "a." + long + ".b"},
		"inline table key":  {"x = [{" + long + " = 1}]\n", "x"},
		"key under a table": {"[t]\n'" + long[2:] + "' = 1\n", "t." + long[2:]},
	} {
		t.Run(name, func(t *testing.T) {
			es := parseErrs(t, c.src)
			if len(es) != 1 {
				t.Fatalf("want 1 error, got:\n%v", es)
			}
			want := fmt.Sprintf("a key %d bytes long; keys in scenario files are at most %d bytes", MaxKeyLength+1, MaxKeyLength)
			if es[0].Msg != want {
				t.Errorf("message %q, want %q", es[0].Msg, want)
			}
			if short := c.key[:min(len(c.key), 64)]; !strings.HasPrefix(es[0].Key, strings.Trim(short, `"'`)) {
				t.Errorf("Key = %q, want it to start %q", es[0].Key, short)
			}
		})
	}

	// At the limit, a key is only unknown; spaces around it do not count.
	es := parseErrs(t, "[t]\n"+strings.Repeat("n", MaxKeyLength)+strings.Repeat(" ", 100)+"= 1\n")
	for _, e := range es {
		if !strings.Contains(e.Msg, "unknown key") {
			t.Errorf("want only unknown keys, got %v", e)
		}
	}
}

// TestScanEndsInsideAString: found by FuzzParse, a document that ends in
// an escape inside a multi-line string ran the scan past its end.
func TestScanEndsInsideAString(t *testing.T) {
	for _, src := range []string{`0""0""0"""0\`, `x = """\`, `x = "\`, "x = '''", `"""\`} {
		es := parseErrs(t, src)
		if !strings.Contains(es[0].Msg, "fix the TOML syntax") {
			t.Errorf("%q: want a syntax error, got:\n%v", src, es)
		}
	}
}

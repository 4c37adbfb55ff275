package emulator

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

type fakeRecord map[string]string

func (r fakeRecord) field(name string) (string, bool) { v, ok := r[name]; return v, ok }

func runQuery(t *testing.T, src string, records []fakeRecord) ([]resultRow, int) {
	t.Helper()
	q, err := parseQuery(src)
	if err != nil {
		t.Fatalf("%q: %v", src, err)
	}
	x := q.start()
	for _, r := range records {
		x.add(r)
	}
	return x.finish()
}

func show(rows []resultRow) string {
	var b strings.Builder
	for _, r := range rows {
		for _, f := range r {
			fmt.Fprintf(&b, "%s=%s ", f.Field, f.Value)
		}
		b.WriteString("; ")
	}
	return b.String()
}

func TestQuerySubset(t *testing.T) {
	records := []fakeRecord{
		{"modelId": "arn:aws:bedrock:us-east-1:1:inference-profile/us.a", "inferenceRegion": "us-east-2", "toMillis(@timestamp)": "1000", "@timestamp": "t1", "@message": "m1"},
		{"modelId": "arn:aws:bedrock:us-east-1:1:inference-profile/us.a", "inferenceRegion": "us-west-2", "toMillis(@timestamp)": "2000", "@timestamp": "t2", "@message": "m2"},
		{"modelId": "arn:aws:bedrock:us-east-1:1:inference-profile/us.a", "inferenceRegion": "us-east-2", "toMillis(@timestamp)": "3000", "@timestamp": "t3", "@message": "m3"},
		{"modelId": "arn:aws:bedrock:us-east-1::foundation-model/b", "inferenceRegion": "us-east-1", "toMillis(@timestamp)": "4000", "@timestamp": "t4", "@message": "m4"},
	}
	for _, c := range []struct {
		query, want string
		matched     int
	}{
		{"filter modelId like /inference-profile\\/us.a/\nand toMillis(@timestamp) >= 2000\n| stats count(*) as invocationCount by inferenceRegion\n| sort inferenceRegion",
			"inferenceRegion=us-east-2 invocationCount=1 ; inferenceRegion=us-west-2 invocationCount=1 ; ", 2},
		{"stats count(*) by inferenceRegion | sort inferenceRegion desc",
			"inferenceRegion=us-west-2 count(*)=1 ; inferenceRegion=us-east-2 count(*)=2 ; inferenceRegion=us-east-1 count(*)=1 ; ", 4},
		{"filter inferenceRegion = 'us-east-1' or (modelId like 'us.a' and toMillis(@timestamp) < 2000) | fields @timestamp, inferenceRegion",
			"@timestamp=t1 inferenceRegion=us-east-2 ; @timestamp=t4 inferenceRegion=us-east-1 ; ", 2},
		{"filter toMillis(@timestamp) != 1000 | sort @timestamp desc | limit 2",
			"@timestamp=t4 @message=m4 ; @timestamp=t3 @message=m3 ; ", 3},
		{"stats count(*) as n", "n=4 ; ", 4},
		{"fields inferenceRegion | stats count(*) as n by inferenceRegion | filter n > 1", "inferenceRegion=us-east-2 n=2 ; ", 4},
	} {
		rows, matched := runQuery(t, c.query, records)
		if got := show(rows); got != c.want || matched != c.matched {
			t.Errorf("%q:\n got %s (%d matched)\nwant %s (%d matched)", c.query, got, matched, c.want, c.matched)
		}
	}
}

func TestMalformedQueriesNameThePart(t *testing.T) {
	for src, part := range map[string]string{
		"":                              "the end of the query",
		"filter modelId like /unclosed": "unterminated regular expression",
		"filter x like /[/":             "does not compile",
		"stats sum(bytes)":              "sum(bytes)",
		"filter a ~ b":                  `"~"`,
		"filter a = b c":                `"c"`,
		"limit many":                    `"many"`,
		"sort":                          "expected a field to sort by",
		"fields count(*)":               "expected a field name",
		"dedup x":                       `"dedup"`,
	} {
		_, err := parseQuery(src)
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("%q: %v; want a message naming %s", src, err, part)
		}
	}
}

// The substring fast path for literal patterns must match exactly what the
// regex would.
func TestLiteralPatternsMatchAsTheRegexDoes(t *testing.T) {
	inputs := []string{
		"arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
		"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-7-sonnet-20250219-v1:0",
		"arn:aws:bedrock:us-east-1:123:inference-profile/usXanthropic.claude-3-7-sonnet-20250219-v1:0",
		"", "a|b", "(a)",
	}
	for _, pattern := range []string{
		`inference-profile\/us\.anthropic\.claude-3-7-sonnet-20250219-v1:0`,
		`(inference-profile\/us\.anthropic\.claude-3-7-sonnet-20250219-v1:0|foundation-model\/anthropic\.claude-3-7-sonnet-20250219-v1:0)`,
		`a\|b`, `\(a\)`, `us.anthropic`, `(a)|(b)`, `(?i)ARN`, `a|`,
	} {
		re := regexp.MustCompile(pattern)
		lits, ok := literalAlternatives(pattern)
		for _, in := range inputs {
			want := re.MatchString(in)
			c := likeCond{left: operand{literal: in}, re: re, literals: lits}
			if got := c.eval(nil); got != want {
				t.Errorf("/%s/ (literals %q, %v) on %q: %v, the regex says %v", pattern, lits, ok, in, got, want)
			}
		}
	}
	if lits, ok := literalAlternatives(`us.anthropic`); ok {
		t.Errorf("an unescaped . was taken as literal: %q", lits)
	}
}

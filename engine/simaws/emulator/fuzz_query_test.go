package emulator

import (
	"errors"
	"testing"
	"time"

	"spillway/engine/simaws/fleet"
)

// fuzzRecords are the records every parsed query runs over: two made-up
// ones and a real invocation log record.
func fuzzRecords() []fieldSource {
	return []fieldSource{
		fakeRecord{"modelId": "arn:aws:bedrock:us-east-1:1:inference-profile/us.a", "inferenceRegion": "us-east-2", "toMillis(@timestamp)": "1000", "@timestamp": "t1", "@message": "m1"},
		fakeRecord{"modelId": "arn:aws:bedrock:us-east-1::foundation-model/b", "inferenceRegion": "us-east-1", "toMillis(@timestamp)": "4000", "@timestamp": "t4"},
		&logRecord{rec: &fleet.Record{SchemaType: "ModelInvocationLog", SchemaVersion: "1.0",
			Timestamp: time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC), AccountID: "111122223333",
			Region: "us-east-1", InferenceRegion: "us-west-2", RequestID: "r-1", Operation: "Converse",
			ModelID: "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0"}},
	}
}

// FuzzParseQuery checks that any query string either parses into a query
// that runs, the same way twice, within the row bound, or is refused with a
// MalformedQuery whose message quotes only a short part of it.
func FuzzParseQuery(f *testing.F) {
	for _, seed := range []string{
		// The seed demo's Region query, as Spillway sends it.
		`filter modelId like /inference-profile\/us.anthropic.claude-sonnet-4-20250514-v1:0/ and toMillis(@timestamp) >= 1700000000000 | stats count(*) as invocationCount by inferenceRegion | sort inferenceRegion`,
		"filter modelId like /(inference-profile\\/us\\.a|foundation-model\\/b)/\n| stats count(*) as n by inferenceRegion\n| sort inferenceRegion",
		"stats count(*) by inferenceRegion | sort inferenceRegion desc",
		"filter inferenceRegion = 'us-east-1' or (modelId like 'us.a' and toMillis(@timestamp) < 2000) | fields @timestamp, inferenceRegion",
		"filter toMillis(@timestamp) != 1000 | sort @timestamp desc | limit 2",
		"fields inferenceRegion | stats count(*) as n by inferenceRegion | filter n > 1",
		"fields @timestamp, @message | sort @timestamp desc | limit 20",
		"display requestId, errorCode | filter errorCode != \"\" | limit 5",
		"filter ((a = 1)) | stats count(*)",
		"parse @message 'x' as y",
		"filter x like /[/",
		"",
	} {
		f.Add(seed)
	}
	records := fuzzRecords()
	f.Fuzz(func(t *testing.T, src string) {
		q, err := parseQuery(src)
		if err != nil {
			var bad *MalformedQuery
			if !errors.As(err, &bad) || bad.msg == "" {
				t.Fatalf("%q: error %T %v, want a MalformedQuery with a message", src, err, err)
			}
			if len(bad.msg) > 1000 {
				t.Fatalf("%q: a %d-byte message; errors quote at most a short part of the query", src, len(bad.msg))
			}
			return
		}
		if len(q.stages) == 0 {
			t.Fatalf("%q parsed into no commands", src)
		}
		run := func() ([]resultRow, int) {
			x := q.start()
			for _, r := range records {
				x.add(r)
			}
			return x.finish()
		}
		rows, matched := run()
		if matched > len(records) || len(rows) > MaxResultRows {
			t.Fatalf("%q: %d rows, %d of %d records matched", src, len(rows), matched, len(records))
		}
		if again, matchedAgain := run(); show(again) != show(rows) || matchedAgain != matched {
			t.Fatalf("%q gave %s then %s", src, show(rows), show(again))
		}
	})
}

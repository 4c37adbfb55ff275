package fleet

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"spillway/engine/wire"
	"spillway/scenarios"
)

const group = "BedrockModelInvocation"

// farFuture sees every record, whatever its ingestion delay.
var farFuture = epoch.Add(1000 * time.Hour)

func TestLogRetentionKeepsTheNewestRecordsOfEachAccount(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	f.SetLogRetention(LogRetention{MaxRecords: 100})
	var ids []string
	for i := range 1000 {
		r := f.Invoke(epoch.Add(time.Duration(i)*time.Second), call(profile))
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		ids = append(ids, r.RequestID)
		if held := f.logs.accounts["a"].capacity(); held > 100 {
			t.Fatalf("after %d calls the log holds room for %d records, want at most MaxRecords (100)", i+1, held)
		}
	}
	records := f.Records("a", group, farFuture)
	if len(records) != 100 {
		t.Fatalf("%d records kept, want the newest 100", len(records))
	}
	for i, r := range records {
		if want := ids[900+i]; r.RequestID != want {
			t.Fatalf("record %d is %s, want %s: the newest 100 in call order", i, r.RequestID, want)
		}
	}
}

func TestLogRetentionDropsRecordsOlderThanMaxAge(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	f.SetLogRetention(LogRetention{MaxAge: time.Hour})
	for i := range 181 { // a call a minute for three hours
		if r := f.Invoke(epoch.Add(time.Duration(i)*time.Minute), call(profile)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	now := epoch.Add(181 * time.Minute)
	if n := len(f.Records("a", group, now)); n != 181 {
		t.Fatalf("%d records before ExpireLogs, want all 181: age is measured only on the clock ExpireLogs is given", n)
	}
	f.ExpireLogs(now)
	records := f.Records("a", group, now)
	// Calls end a few seconds after they start, so the calls of minutes
	// 121 to 180 ended within the last hour; minute 120's ended before it.
	if len(records) != 60 {
		t.Fatalf("%d records an hour after the calls of the last hour began, want 60", len(records))
	}
	for _, r := range records {
		if now.Sub(r.Timestamp) > time.Hour {
			t.Fatalf("record stamped %v is older than an hour at %v", r.Timestamp, now)
		}
	}
	f.ExpireLogs(now.Add(30 * time.Minute))
	counts, err := f.RegionCounts(Query{Account: "a", LogGroup: group, Models: []string{profile}, From: epoch, To: farFuture}, now.Add(30*time.Minute))
	if err != nil || total(counts) != 30 {
		t.Fatalf("half an hour later: %v %v, want the 30 records of the last hour", counts, err)
	}
}

func TestZeroLogRetentionKeepsEveryRecord(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	for i := range 3000 {
		f.Invoke(epoch.Add(time.Duration(i)*time.Minute), call(profile))
	}
	if n := len(f.Records("a", group, epoch.Add(5000*time.Minute))); n != 3000 {
		t.Fatalf("%d records kept without a retention, want all 3000: a run's histogram counts every call", n)
	}
}

// Model ids that are ARNs carry parts a client may invent; a stranger
// sending a new one with every call must not grow the fleet's caches.
func TestInventedModelARNsDoNotGrowTheInternedStrings(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	for i := range 3 * maxInterned {
		arn := fmt.Sprintf("arn:aws:bedrock:us-east-1:%012d:inference-profile/%s", i, profile)
		r := f.Invoke(epoch.Add(time.Duration(i)*time.Second), call(arn))
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if i == 3*maxInterned-1 {
			rec := f.Records("a", group, farFuture)[i]
			if rec.ModelID != arn || !strings.Contains(r.Text, "claude-sonnet-4") {
				t.Fatalf("past the cache's limit: record model %q, text %q; want the ARN as called and a normal answer", rec.ModelID, r.Text)
			}
		}
	}
	if n := len(f.interned); n > maxInterned {
		t.Fatalf("%d interned strings after %d distinct ARNs, want at most %d", n, 3*maxInterned, maxInterned)
	}
}

func TestMaxTokensBeyondTheLimitIsAValidationError(t *testing.T) {
	// A catalog model's limit is its own (Claude Sonnet 4: 64,000); a
	// model the catalog does not know is held to MaxOutputTokens.
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	for model, limit := range map[string]int{profile: 64_000, "anthropic.claude-v1:0": MaxOutputTokens} {
		for _, n := range []int{limit + 1, 1 << 62, -1, 0} {
			c := call(model)
			c.MaxTokens = n
			r := f.Invoke(epoch, c)
			if r.Err == nil || r.Err.Code != wire.ValidationException || !strings.Contains(r.Err.Message, strconv.Itoa(limit)) && n > 0 {
				t.Errorf("%s maxTokens %d: %+v, want a wire.ValidationException naming the limit of %d", model, n, r.Err, limit)
			}
		}
		c := call(model)
		c.MaxTokens = limit
		if r := f.Invoke(epoch, c); r.Err != nil || r.OutputTokens > limit {
			t.Fatalf("%s maxTokens at the limit: %+v", model, r)
		}
	}
}

// Age is counted from when a call was received: one call stamped a century
// ahead neither shields the records after it from expiring nor lives on.
func TestAFutureStampedCallDoesNotStopExpiry(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	f.SetLogRetention(LogRetention{MaxAge: time.Hour})
	future := call(profile)
	future.ReceivedAt = epoch
	f.Invoke(epoch.AddDate(100, 0, 0), future)
	for i := range 10 {
		c := call(profile)
		c.ReceivedAt = epoch.Add(time.Duration(i) * time.Minute)
		f.Invoke(c.ReceivedAt, c)
	}
	f.ExpireLogs(epoch.Add(3 * time.Hour))
	if n := len(f.Records("a", group, epoch.AddDate(200, 0, 0))); n != 0 {
		t.Fatalf("%d records kept three hours after they were received, want none", n)
	}
}

// VisibleFor drops a record once it has been visible that long by the
// calls' own clock, with no ExpireLogs and no wall clock: a call a minute
// for three hours keeps about the last VisibleFor's worth, and never a
// record that is not yet visible.
func TestLogRetentionDropsRecordsVisibleForLongerThanVisibleFor(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	f.SetLogRetention(LogRetention{VisibleFor: 30 * time.Minute})
	var last Reply
	for i := range 181 {
		if last = f.Invoke(epoch.Add(time.Duration(i)*time.Minute), call(profile)); last.Err != nil {
			t.Fatal(last.Err)
		}
		l := f.logs.accounts["a"]
		newest := l.at(l.end() - 1)
		for pos := l.first; pos < l.end(); pos++ {
			if r := l.at(pos); r.visibleAt < newest.at-int64(31*time.Minute) {
				t.Fatalf("after call %d a record visible since %v is still kept", i, time.Duration(newest.at-r.visibleAt))
			}
		}
	}
	records := f.Records("a", group, farFuture)
	if n := len(records); n < 28 || n > 32 {
		t.Fatalf("%d records kept, want about the last 30 minutes' worth", n)
	}
	if records[len(records)-1].RequestID != last.RequestID {
		t.Fatal("the newest record, not yet visible, was dropped")
	}
}

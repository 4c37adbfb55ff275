package engine_test

import (
	"fmt"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/scenarios"
)

// tokenScenario is one deployment behind a TPM limit, and one tenant that
// sends a burst of requests at once: input 1,000 and max_tokens 1,000, so
// each reserves 2,000; every answer takes 10 s and has 500 output tokens.
// The tenant's keys must set its rpm.
func tokenScenario(deployment, tenant string, requests int) string {
	return fmt.Sprintf(`
[[model]]
id = "anthropic.claude-3-7-sonnet-20250219-v1:0"
latency_p50 = "10s"
output_tokens = 500

[[scenario]]
name = "t"
title = "tokens"
input_tokens = 1000
max_tokens = 1000
  [[scenario.account]]
  name = "a"
  [[scenario.deployment]]
  name = "d"
  model = "anthropic.claude-3-7-sonnet-20250219-v1:0"
  rpm = "unlimited"
  %s
  [[scenario.group]]
  name = "g"
  deployments = ["d"]
  [[scenario.tenant]]
  name = "A"
  requests = %d
  %s
`, deployment, requests, tenant)
}

const unlimitedRPM = `rpm = "unlimited"`

func level(t *testing.T, r enginetest.Run, id engine.BucketID) engine.BucketLevel {
	t.Helper()
	l, ok := r.Engine.Controls().Snapshot().Bucket(id)
	if !ok {
		t.Fatalf("no bucket %s in %+v", id, r.Engine.Controls().Snapshot().Buckets)
	}
	return l
}

func TestDeploymentTPMReservesInputPlusMaxTokens(t *testing.T) {
	f := enginetest.Parse(t, tokenScenario(`tpm = 10000`, unlimitedRPM, 20))
	r := enginetest.NewRun(t, f, "t", engine.Options{Seed: 1})
	sum := r.Do(t)
	// 10,000 / (1,000 + 1,000): five at once, and the other fifteen find
	// the deployment without room.
	if sum.Succeeded != 5 || sum.RateLimited != 15 {
		t.Fatalf("%d succeeded, %d rate-limited; want 5 and 15 (five reservations of 2,000 fill 10,000)", sum.Succeeded, sum.RateLimited)
	}
	skips := r.Events.Of(engine.Skipped)
	if len(skips) != 15 || skips[0].Bucket != "deployment/d/tpm" || skips[0].RPM != 10000 ||
		skips[0].Message != "deployment d is at its 10000 TPM (token-bucket, reserve)" {
		t.Fatalf("%d skips, first %+v; want 15 naming the TPM bucket", len(skips), skips[0])
	}
	// Settled on 1,000 in + 500 out: 1,500 each, 7,500 in all.
	l := level(t, r, "deployment/d/tpm")
	if l.Counting != scenarios.Reserve || l.Used != 7_500 || l.Admitted != 5 || l.Rejected != 15 {
		t.Fatalf("tpm bucket %+v; want reserve, 7,500 used, 5 admitted, 15 rejected", l)
	}
}

func TestDeploymentTPMCountedAfterSuccessOvershoots(t *testing.T) {
	// LiteLLM's way: only the input is checked before the call, and
	// nothing is counted until an answer comes, so all twenty go at once
	// and the limit is overdrawn by the answers.
	f := enginetest.Parse(t, tokenScenario("tpm = 10000\n  tpm_counting = \"after-success\"", unlimitedRPM, 20))
	r := enginetest.NewRun(t, f, "t", engine.Options{Seed: 1})
	sum := r.Do(t)
	if sum.Succeeded != 20 || sum.RateLimited != 0 {
		t.Fatalf("%d succeeded, %d rate-limited; want all 20 through (nothing counted before the answers)", sum.Succeeded, sum.RateLimited)
	}
	l := level(t, r, "deployment/d/tpm")
	if l.Counting != scenarios.AfterSuccess || l.Used != 20*1_500 || l.Available >= 0 {
		t.Fatalf("tpm bucket %+v; want after-success, 30,000 used, overdrawn", l)
	}
}

func TestTenantRPMAndTPMWhicheverRunsOutFirstRefuses(t *testing.T) {
	for _, tc := range []struct {
		tpm                 int
		admitted            int
		refusedBy           engine.BucketID
		rpmAdmitted, tpmRej int
	}{
		// 5,000 tokens hold two reservations of 2,000; 3 RPM would take three.
		{tpm: 5_000, admitted: 2, refusedBy: "tenant/A/tpm", rpmAdmitted: 2, tpmRej: 3},
		// 100,000 tokens hold fifty; 3 RPM runs out first.
		{tpm: 100_000, admitted: 3, refusedBy: "tenant/A", rpmAdmitted: 3, tpmRej: 0},
	} {
		t.Run(fmt.Sprint(tc.tpm), func(t *testing.T) {
			f := enginetest.Parse(t, tokenScenario("", fmt.Sprintf("rpm = 3\n  tpm = %d", tc.tpm), 5))
			r := enginetest.NewRun(t, f, "t", engine.Options{Seed: 1})
			sum := r.Do(t)
			if sum.Succeeded != tc.admitted {
				t.Fatalf("%d succeeded; want %d", sum.Succeeded, tc.admitted)
			}
			for _, ev := range r.Events.Of(engine.RateLimited) {
				if ev.Bucket != tc.refusedBy {
					t.Fatalf("refused by %s (%s); want %s", ev.Bucket, ev.Message, tc.refusedBy)
				}
			}
			// A request the TPM limit refused is not charged to the RPM limit.
			if rpm := level(t, r, "tenant/A"); rpm.Admitted != tc.rpmAdmitted {
				t.Fatalf("RPM bucket admitted %d; want %d", rpm.Admitted, tc.rpmAdmitted)
			}
			if tpm := level(t, r, "tenant/A/tpm"); tpm.Rejected != tc.tpmRej {
				t.Fatalf("TPM bucket rejected %d; want %d", tpm.Rejected, tc.tpmRej)
			}
		})
	}
}

func TestTenantTPMSettlesWhenTheRequestEnds(t *testing.T) {
	// Reserved 2,000 each at admission; each answer used 1,500, so the
	// tenant's bucket is charged 1,500 per request in the end.
	f := enginetest.Parse(t, tokenScenario("", unlimitedRPM+"\n  tpm = 100000", 4))
	r := enginetest.NewRun(t, f, "t", engine.Options{Seed: 1})
	r.Do(t)
	if l := level(t, r, "tenant/A/tpm"); l.Used != 4*1_500 {
		t.Fatalf("tenant TPM used %v after settlement; want 6,000", l.Used)
	}
}

func TestRetuningTPMLive(t *testing.T) {
	// A fixed window of 2,000 admits one request a minute; raised to
	// 20,000 after the first refusal, the next ones pass.
	f := enginetest.Parse(t, tokenScenario("", unlimitedRPM+"\n  tpm = 2000\n  limiter = \"fixed-window\"", 12))
	f.Scenarios[0].Tenants[0].Stagger = time.Second
	r := enginetest.NewRun(t, f, "t", engine.Options{Seed: 1})
	sent := false
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.RateLimited && !sent {
			sent = true
			if err := r.Engine.Controls().Send(engine.SetRPM{Bucket: "tenant/A/tpm", RPM: 20_000}); err != nil {
				t.Error(err)
			}
		}
	}))
	sum := r.Do(t)
	changes := r.Events.Of(engine.RPMChanged)
	if len(changes) != 1 || changes[0].Bucket != "tenant/A/tpm" || changes[0].RPM != 20_000 {
		t.Fatalf("RPMChanged events %+v; want one for tenant/A/tpm to 20000", changes)
	}
	// Request 1 fits, request 2 is refused, and the raise lands before
	// request 3: 2,000 + 9 × 2,000 reserved fills the raised window with
	// request 11, and request 12 is refused again.
	if sum.RateLimited != 2 || sum.Succeeded != 10 {
		t.Fatalf("%d succeeded, %d rate-limited; want 10 and 2", sum.Succeeded, sum.RateLimited)
	}
	if l := level(t, r, "tenant/A/tpm"); l.RPM != 20_000 {
		t.Fatalf("tpm bucket after the run %+v; want the raised limit", l)
	}
}

// by_deployment names deployments, never their TPM buckets.
func TestTPMBucketsAreNotDeploymentsInTheSummary(t *testing.T) {
	f := enginetest.Parse(t, tokenScenario(`tpm = 10000`, unlimitedRPM, 2))
	r := enginetest.NewRun(t, f, "t", engine.Options{Seed: 1})
	sum := r.Do(t)
	if len(sum.ByDeployment) != 1 || sum.ByDeployment["d"] != 2 {
		t.Fatalf("by_deployment %v; want only d, with 2", sum.ByDeployment)
	}
}

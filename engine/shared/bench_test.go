package shared_test

import (
	"context"
	"testing"
	"time"

	"spillway/engine/bucket"
	"spillway/engine/enginetest"
	"spillway/engine/shared"
	"spillway/scenarios"
)

// BenchmarkSharedDecision compares one admission decision in an engine's
// own bucket with the same decision in Redis over loopback: one script,
// one round trip, whether it takes from one bucket or from the tenant's
// and the deployment's together. The limits are unlimited in practice
// (a huge number) so every decision admits.
func BenchmarkSharedDecision(b *testing.B) {
	const huge = 1e15
	b.Run("local-bucket", func(b *testing.B) {
		bk := bucket.New(scenarios.TokenBucket, huge, time.Unix(0, 0))
		now := time.Now()
		b.ReportAllocs()
		for b.Loop() {
			if !bk.AllowAt(now) {
				b.Fatal("refused")
			}
		}
	})
	srv := enginetest.StartRedis(b)
	r, err := shared.DialRedis(context.Background(), srv.URL(), "bench", 0)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	one := []shared.Ask{{Key: "deployment/primary", Semantic: scenarios.TokenBucket, Limit: huge, N: 1}}
	two := append([]shared.Ask{{Key: "tenant/a", Semantic: scenarios.FixedWindow, Limit: huge, N: 1}}, one...)
	for _, c := range []struct {
		name string
		asks []shared.Ask
	}{{"redis-one-bucket", one}, {"redis-tenant+deployment", two}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, refused, err := r.Take(ctx, c.asks); err != nil || refused != nil {
					b.Fatal(err, refused)
				}
			}
		})
	}
	// Decisions from 16 goroutines at once: what one replica's connection
	// pool carries.
	b.Run("redis-16-at-once", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if _, refused, err := r.Take(ctx, two); err != nil || refused != nil {
					b.Error(err, refused)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	})
}

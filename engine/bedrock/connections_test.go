package bedrock_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"spillway/engine"
	"spillway/engine/bedrock"
	"spillway/scenarios"
)

// A gateway keeps dozens of calls in flight. Each wave of 64 calls at once
// after the first reuses the first wave's connections: none is closed
// for want of room among the idle ones and opened again.
func TestCallsInFlightKeepTheirConnections(t *testing.T) {
	const inFlight = 64
	var opened atomic.Int64
	var arrived sync.WaitGroup
	var mu sync.Mutex
	gate := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" { // STS, during Connect
			w.Header().Set("Content-Type", "text/xml")
			fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Account>111122223333</Account><Arn>arn:aws:sts::111122223333:assumed-role/x/y</Arn><UserId>x</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>`)
			return
		}
		// Hold every call until the whole wave is in flight, so the wave
		// needs 64 connections at once.
		arrived.Done()
		mu.Lock()
		g := gate
		mu.Unlock()
		<-g
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"output":{"message":{"role":"assistant","content":[{"text":"ok"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":0}}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	s := scenario()
	client, err := bedrock.Connect(context.Background(), s, bedrock.Target{Endpoint: srv.URL, Virtual: true, Credentials: emulatorKeys})
	if err != nil {
		t.Fatal(err)
	}
	call := engine.Call{Account: "acct", SourceRegion: "us-east-1", ModelID: profileID, Operation: scenarios.OpConverse, Prompt: "x", MaxTokens: 10}

	wave := func() {
		mu.Lock()
		gate = make(chan struct{})
		mu.Unlock()
		arrived.Add(inFlight)
		var done sync.WaitGroup
		for range inFlight {
			done.Add(1)
			go func() {
				defer done.Done()
				if r := client.Invoke(context.Background(), epoch, call); r.Code != "" {
					t.Errorf("call: %s %s", r.Code, r.Message)
				}
			}()
		}
		arrived.Wait()
		mu.Lock()
		close(gate)
		mu.Unlock()
		done.Wait()
	}
	wave()
	first := opened.Load()
	for range 3 {
		wave()
	}
	if again := opened.Load() - first; again != 0 {
		t.Errorf("three more waves of %d calls opened %d new connections (the first opened %d); want every one reused", inFlight, again, first)
	}
}

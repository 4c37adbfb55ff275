package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spillway/engine/wire"
)

var (
	soakFor    = flag.Duration("soak.for", 60*time.Second, "how long BenchmarkEmulatorSoak drives the emulator")
	soakBinary = flag.String("soak.bin", "", "a spillway binary for BenchmarkEmulatorSoak to run instead of building one from this tree")
)

// soakWorkers is how many clients call Converse at once.
const soakWorkers = 64

// soakStep is how far simulated time moves with each call. Calls carry
// X-Spillway-Time, so the emulator answers at once and its quotas refill on
// simulated time. All Converse calls go to the first account, whose quota
// for this profile is 400 requests a minute across its Regions: at 300 ms a
// call it uses half, so few calls are throttled and nearly every call writes
// a log record. A standalone emulator keeps 200,000 records per account, a
// bound reached after 200,000 calls, well within a minute at the rates
// loopback allows; a simulated day passes after 288,000.
const soakStep = 300 * time.Millisecond

// BenchmarkEmulatorSoak runs the real `spillway emulator` process at
// --speed max and drives it with soakWorkers Converse clients for -soak.for,
// plus a trickle of Logs Insights queries, and reports the process's
// resident memory at the start, midway and at the end, and the calls
// answered per second. The memory must level off once the standalone log
// retention is reached: the end close to the middle.
//
//	go test -run '^$' -bench '^BenchmarkEmulatorSoak$' -benchtime 1x -soak.for 60s .
func BenchmarkEmulatorSoak(b *testing.B) {
	bin := *soakBinary
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "spillway")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
	}
	for b.Loop() {
		emu := startEmulatorProcess(b, bin)
		soak(b, emu, *soakFor)
	}
}

// emulatorProcess is a running `spillway emulator` and what it printed.
type emulatorProcess struct {
	cmd      *exec.Cmd
	endpoint string
	keys     []string // one access key per account
}

var accessKeyPattern = regexp.MustCompile(`\bAKIASPLW[A-Z2-7]{12}\b`)

func startEmulatorProcess(b *testing.B, bin string) *emulatorProcess {
	b.Helper()
	cmd := exec.Command(bin, "emulator", "--addr", "127.0.0.1:0", "--speed", "max")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &emulatorProcess{cmd: cmd}
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	lines := bufio.NewScanner(stdout)
	ready := make(chan struct{})
	go func() {
		defer close(ready)
		for lines.Scan() {
			line := lines.Text()
			if f := strings.Fields(line); len(f) == 2 && f[0] == "endpoint" {
				p.endpoint = f[1]
			}
			if key := accessKeyPattern.FindString(line); key != "" {
				p.keys = append(p.keys, key)
			}
			if strings.HasPrefix(line, "Serving until") {
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		b.Fatal("the emulator printed no endpoint within 30 s")
	}
	if p.endpoint == "" || len(p.keys) == 0 {
		b.Fatalf("the emulator printed endpoint %q and keys %v", p.endpoint, p.keys)
	}
	go io.Copy(io.Discard, stdout) // keep its stdout flowing
	return p
}

// rssMiB is a process's resident memory, from /proc.
func rssMiB(b *testing.B, pid int) float64 {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatalf("VmRSS %q: %v", rest, err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmRSS in /proc status")
	return 0
}

// soakClock hands out simulated times, soakStep apart.
type soakClock struct {
	start time.Time
	calls atomic.Int64
}

func (c *soakClock) next() time.Time {
	return c.start.Add(time.Duration(c.calls.Add(1)) * soakStep)
}

func (c *soakClock) now() time.Time {
	return c.start.Add(time.Duration(c.calls.Load()) * soakStep)
}

func soak(b *testing.B, emu *emulatorProcess, length time.Duration) {
	pid := emu.cmd.Process.Pid
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: soakWorkers, MaxConnsPerHost: soakWorkers}}
	clock := &soakClock{start: time.Now()}
	const model = "us.anthropic.claude-sonnet-4-20250514-v1:0"
	converse := []byte(`{"messages":[{"role":"user","content":[{"text":"Why resilience?"}]}],"inferenceConfig":{"maxTokens":100}}`)

	var answered, succeeded, throttled, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range soakWorkers {
		wg.Go(func() {
			key := emu.keys[0]
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, _ := soakCall(client, emu.endpoint+"/model/"+model+"/converse", key, "", clock.next(), converse)
				answered.Add(1)
				switch {
				case status == http.StatusOK:
					succeeded.Add(1)
				case status == http.StatusTooManyRequests:
					throttled.Add(1)
				default:
					failed.Add(1)
				}
			}
		})
	}
	var queries, queryErrors, queryTime atomic.Int64
	wg.Go(func() { soakQueries(b, client, emu, clock, stop, &queries, &queryErrors, &queryTime) })

	// Memory at the start, then at each sixth of the soak.
	const samples = 6
	rss := []float64{rssMiB(b, pid)}
	began := time.Now()
	for i := 1; i <= samples; i++ {
		time.Sleep(time.Until(began.Add(length * time.Duration(i) / samples)))
		rss = append(rss, rssMiB(b, pid))
	}
	close(stop)
	wg.Wait()
	elapsed := time.Since(began)

	simulated := clock.now().Sub(clock.start)
	b.Logf("%d calls in %v (%d succeeded, %d throttled, %d other), %d queries (%d errors); %v of simulated time",
		answered.Load(), elapsed.Round(time.Millisecond), succeeded.Load(), throttled.Load(), failed.Load(),
		queries.Load(), queryErrors.Load(), simulated.Round(time.Minute))
	b.Logf("RSS MiB at each sixth: %.1f", rss)
	if failed.Load() > 0 || queryErrors.Load() > 0 {
		b.Errorf("%d calls and %d queries failed", failed.Load(), queryErrors.Load())
	}
	peak := 0.0
	for _, m := range rss {
		peak = max(peak, m)
	}
	b.ReportMetric(float64(answered.Load())/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(answered.Load()), "calls")
	b.ReportMetric(rss[0], "rss-start-MiB")
	b.ReportMetric(rss[samples/2], "rss-mid-MiB")
	b.ReportMetric(rss[samples], "rss-end-MiB")
	b.ReportMetric(peak, "rss-peak-MiB")
	b.ReportMetric(simulated.Hours(), "simulated-h")
	if n := queries.Load(); n > 0 {
		b.ReportMetric(float64(time.Duration(queryTime.Load()/n).Microseconds())/1000, "query-ms")
	}
}

// soakCall sends one signed call at simulated time at and returns its
// status and body.
func soakCall(client *http.Client, url, key, target string, at time.Time, body []byte) (int, []byte) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+key+"/20261201/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00")
	req.Header.Set(wire.TimeHeader, strconv.FormatInt(at.UnixNano(), 10))
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, reply
}

// soakLogsCall makes one CloudWatch Logs call and decodes its reply into
// out.
func soakLogsCall(client *http.Client, endpoint, key, operation string, at time.Time, body []byte, out any) error {
	status, reply := soakCall(client, endpoint+"/", key, "Logs_20140328."+operation, at, body)
	if status != http.StatusOK {
		return fmt.Errorf("%s: %d %s", operation, status, reply)
	}
	if err := json.Unmarshal(reply, out); err != nil {
		return fmt.Errorf("%s: %v in %s", operation, err, reply)
	}
	return nil
}

// soakQueries runs a Logs Insights query on the loaded account every second
// until stop, alternating the seed's Region histogram over the last
// simulated hour with the 20 newest records of the whole log, each polled
// to completion; it adds up the wall time each took in spent.
func soakQueries(b *testing.B, client *http.Client, emu *emulatorProcess, clock *soakClock, stop <-chan struct{}, queries, failures, spent *atomic.Int64) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		now := clock.now()
		from := now.Add(-time.Hour)
		query := fmt.Sprintf(`filter modelId like /inference-profile\/us.anthropic.claude-sonnet-4-20250514-v1:0/ and toMillis(@timestamp) >= %d | stats count(*) as invocationCount by inferenceRegion | sort inferenceRegion`, from.UnixMilli())
		if i%2 == 1 {
			query, from = "fields @timestamp, requestId | sort @timestamp desc | limit 20", clock.start
		}
		start, _ := json.Marshal(map[string]any{"logGroupName": "BedrockModelInvocation",
			"startTime": from.Unix(), "endTime": now.Unix(), "queryString": query})
		key := emu.keys[0] // the account the Converse calls go to
		began := time.Now()
		var started struct {
			QueryID string `json:"queryId"`
		}
		if err := soakLogsCall(client, emu.endpoint, key, "StartQuery", now, start, &started); err != nil {
			b.Log(err)
			failures.Add(1)
			continue
		}
		for {
			var results struct {
				Status string `json:"status"`
			}
			poll := []byte(`{"queryId":"` + started.QueryID + `"}`)
			if err := soakLogsCall(client, emu.endpoint, key, "GetQueryResults", clock.now(), poll, &results); err != nil {
				b.Log(err)
				failures.Add(1)
				break
			}
			if results.Status == "Complete" {
				queries.Add(1)
				spent.Add(int64(time.Since(began)))
				break
			}
		}
	}
}

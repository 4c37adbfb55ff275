package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The gateway's overhead, measured against Portkey's open-source gateway
// in one run: client → upstream directly, client → spillway gateway →
// upstream, and client → Portkey → the same upstream. A fourth path, Go's
// own reverse proxy passing the direct request through unchanged, is the
// floor: what one more HTTP hop costs on the machine. Run it with
//
//	go test -run '^$' -bench GatewayOverhead -benchtime 1x .
//
// or `bash .ci/measure overhead`, which repeats it.
var (
	overheadRequests = flag.Int("overhead.requests", 2000, "sequential requests BenchmarkGatewayOverhead sends down each path, per round")
	overheadFor      = flag.Duration("overhead.for", 3*time.Second, "how long BenchmarkGatewayOverhead drives each path at 64 concurrent, per round")
)

// portkeyVersion is the Portkey gateway the overhead is compared with.
const portkeyVersion = "1.15.2"

// overheadScenario serves one group on one unlimited deployment to one
// unlimited key: nothing the engine does is skipped, and nothing refuses.
const overheadScenario = `default = "overhead"

[[scenario]]
name = "overhead"
title = "Gateway overhead: one unlimited deployment, one unlimited key"

  [[scenario.account]]
  name = "default"
  quota_rpm = "unlimited"

  [[scenario.deployment]]
  name = "haiku"
  model = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
  rpm = "unlimited"

  [[scenario.group]]
  name = "haiku"
  deployments = ["haiku"]

  [[scenario.tenant]]
  name = "bench"
  rpm = "unlimited"
  arrival = "gateway"
  api_keys = ["sk-bench"]
`

// overheadModel is the Bedrock model every path asks for.
const overheadModel = "us.anthropic.claude-3-5-haiku-20241022-v1:0"

// overheadPath is one way from the client to the upstream: a request
// that goes down it, the same every time.
type overheadPath struct {
	name   string
	url    string
	header http.Header
	body   []byte
}

func (p overheadPath) request(ctx context.Context) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.body))
	req.Header = p.header
	req.ContentLength = int64(len(p.body))
	return req
}

// BenchmarkGatewayOverhead runs the upstream, the spillway gateway and
// Portkey as processes of their own, and drives each path in turn from
// this one: sequentially (added p50 and p99 latency over the direct path)
// and at 64 concurrent (the most requests a second each path carries).
// The upstream is a `spillway emulator --speed max`: it answers Bedrock's
// Converse at once, and Portkey reaches it as its Bedrock provider with a
// custom host. Rounds alternate the paths so that a noisy minute falls on
// all three.
func BenchmarkGatewayOverhead(b *testing.B) {
	pkDir := npmPackage(b, "@portkey-ai/gateway", portkeyVersion, "Portkey's gateway, the comparison")
	bin := spillwayBinary(b)
	dir := b.TempDir()
	file := filepath.Join(dir, "overhead.toml")
	if err := os.WriteFile(file, []byte(overheadScenario), 0o644); err != nil {
		b.Fatal(err)
	}

	emu := startService(b, dir, "emulator", nil, `endpoint\s+(http://\S+)`, bin,
		"emulator", "--scenarios", file, "--addr", "127.0.0.1:0", "--speed", "max")
	profiles := regexp.MustCompile(`export (AWS_SHARED_CREDENTIALS_FILE=\S+) (AWS_CONFIG_FILE=\S+)`).FindStringSubmatch(emu.output())
	if profiles == nil {
		b.Fatalf("the emulator did not print its profiles:\n%s", emu.output())
	}
	gw := startService(b, dir, "gateway", append(os.Environ(), profiles[1], profiles[2]), `on (http://127\.0\.0\.1:\d+)`, bin,
		"gateway", "overhead", "--scenarios", file, "--listen", "127.0.0.1:0", "--headless",
		"--backend", "aws", "--endpoint", emu.url)
	floor := startService(b, dir, "reverse-proxy", append(os.Environ(), "SPILLWAY_TEST_AS_REVERSE_PROXY="+emu.url), `on (http://127\.0\.0\.1:\d+)`, os.Args[0])
	port := freePort(b)
	pk := startService(b, dir, "portkey", append(os.Environ(), "NODE_ENV=production"), "", "node",
		filepath.Join(pkDir, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js"), "--port="+port, "--headless")
	pk.url = "http://127.0.0.1:" + port

	directHeader := http.Header{"Content-Type": {"application/json"}, "X-Amz-Date": {"20261202T000000Z"},
		// The emulator reads the account from the access key id and does
		// not check signatures: the direct client does the least work a
		// client can.
		"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIASPLW6PRBCD2CFNLX/20261202/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + strings.Repeat("0", 64)}}
	converse := []byte(`{"messages":[{"role":"user","content":[{"text":"Say hello."}]}],"inferenceConfig":{"maxTokens":20}}`)
	chat := []byte(`{"model":"%s","messages":[{"role":"user","content":"Say hello."}],"max_tokens":20}`)
	paths := []overheadPath{
		{name: "direct", url: emu.url + "/model/" + overheadModel + "/converse", header: directHeader, body: converse},
		{name: "go-proxy", url: floor.url + "/model/" + overheadModel + "/converse", header: directHeader, body: converse},
		{name: "spillway", url: gw.url + "/v1/chat/completions",
			header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer sk-bench"}},
			body:   fmt.Appendf(nil, string(chat), "haiku")},
		{name: "portkey", url: pk.url + "/v1/chat/completions",
			header: http.Header{"Content-Type": {"application/json"},
				"X-Portkey-Provider": {"bedrock"}, "X-Portkey-Custom-Host": {emu.url},
				"X-Portkey-Aws-Access-Key-Id": {"AKIASPLW6PRBCD2CFNLX"}, "X-Portkey-Aws-Secret-Access-Key": {"spillway-emulator-secret-access-key"},
				"X-Portkey-Aws-Region": {"us-east-1"}},
			body: fmt.Appendf(nil, string(chat), overheadModel)},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute}}
	waitServing(b, client, paths[3])
	for _, p := range paths {
		checkAnswer(b, client, p)
	}

	seq := map[string][]time.Duration{}
	conc := map[string][]time.Duration{}
	rate := map[string][]float64{}
	for b.Loop() {
		for _, p := range paths {
			// Warm the connections, and Portkey's JIT: a path measured
			// cold would look slower than it is.
			drive(b, client, p, 1000, 1)
			drive(b, client, p, 2000, 64)
			seq[p.name] = append(seq[p.name], sequential(b, client, p, *overheadRequests)...)
		}
		for _, p := range paths {
			lat, perSecond := concurrent(b, client, p, 64, *overheadFor)
			conc[p.name] = append(conc[p.name], lat...)
			rate[p.name] = append(rate[p.name], perSecond)
		}
	}

	direct50, direct99 := percentile(seq["direct"], 50), percentile(seq["direct"], 99)
	added := func(name string, q float64, base time.Duration) float64 {
		return float64(percentile(seq[name], q)-base) / float64(time.Microsecond)
	}
	best := func(name string) float64 { return slices.Max(rate[name]) }
	b.ReportMetric(float64(direct50)/1e3, "direct-p50-µs")
	b.ReportMetric(best("direct"), "direct-req/s")
	for _, name := range []string{"go-proxy", "spillway", "portkey"} {
		b.ReportMetric(added(name, 50, direct50), name+"-added-p50-µs")
		b.ReportMetric(added(name, 99, direct99), name+"-added-p99-µs")
		b.ReportMetric(best(name), name+"-req/s")
	}
	// Portkey's added p50 over spillway's, and spillway's throughput over
	// Portkey's: the goals are 10 and 10.
	b.ReportMetric(added("portkey", 50, direct50)/max(added("spillway", 50, direct50), 1), "p50-ratio")
	b.ReportMetric(best("spillway")/best("portkey"), "throughput-ratio")
	b.ReportMetric(0, "ns/op")
	for _, p := range paths {
		b.Logf("%-8s sequential p50 %8s p99 %8s · 64 concurrent p50 %8s p99 %8s, %6.0f req/s",
			p.name, percentile(seq[p.name], 50), percentile(seq[p.name], 99),
			percentile(conc[p.name], 50), percentile(conc[p.name], 99), best(p.name))
	}
}

// sequential sends n requests down a path one after another and returns
// each one's latency.
func sequential(b *testing.B, client *http.Client, p overheadPath, n int) []time.Duration {
	lat := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		send(b, client, p, context.Background())
		lat = append(lat, time.Since(start))
	}
	return lat
}

// concurrent keeps workers requests in flight down a path for d, and
// returns each one's latency and how many a second completed.
func concurrent(b *testing.B, client *http.Client, p overheadPath, workers int, d time.Duration) ([]time.Duration, float64) {
	var done atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t := time.Now()
				send(b, client, p, context.Background())
				mine = append(mine, time.Since(t))
				done.Add(1)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, float64(done.Load()) / time.Since(start).Seconds()
}

// drive sends n requests down a path, workers at a time.
func drive(b *testing.B, client *http.Client, p overheadPath, n, workers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				send(b, client, p, context.Background())
			}
		}()
	}
	wg.Wait()
}

// send makes one request and reads its whole answer. Anything but a 200
// fails the benchmark: a refused request would flatter a path.
func send(b *testing.B, client *http.Client, p overheadPath, ctx context.Context) {
	resp, err := client.Do(p.request(ctx))
	if err != nil {
		b.Fatalf("%s: %v", p.name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s answered %d: %s", p.name, resp.StatusCode, body)
	}
}

// checkAnswer sends one request and checks that it was served by the
// upstream: a gateway that answered from anywhere else would be measuring
// something else.
func checkAnswer(b *testing.B, client *http.Client, p overheadPath) {
	resp, err := client.Do(p.request(context.Background()))
	if err != nil {
		b.Fatalf("%s: %v", p.name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Tokens")) && !bytes.Contains(body, []byte("tokens")) {
		b.Fatalf("%s answered %d without a model's usage: %s", p.name, resp.StatusCode, body)
	}
	if p.name == "spillway" && resp.Header.Get("X-Spillway-Deployment") != "haiku" {
		b.Fatalf("spillway's answer does not name its deployment: %v", resp.Header)
	}
}

// waitServing waits until a path answers, for a service that says
// nothing when it is ready.
func waitServing(b *testing.B, client *http.Client, p overheadPath) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Do(p.request(context.Background()))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s did not answer within 30 s: %v", p.name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// percentile is the q-th percentile of lat, by rank.
func percentile(lat []time.Duration, q float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*q/100))]
}

// freePort is a loopback port nothing listens on, for a service that
// cannot be told to take any.
func freePort(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// service is a process the benchmark started, writing to a file: reading
// its output as it comes would cost this process CPU while it measures.
type service struct {
	url string
	log string
}

func (s *service) output() string {
	out, _ := os.ReadFile(s.log)
	return string(out)
}

// startService starts a command with its output in a file in dir, stops
// it with SIGINT when the benchmark ends, and, given a pattern, waits
// for its output to say its URL.
func startService(b *testing.B, dir, name string, env []string, urlPattern string, command string, args ...string) *service {
	b.Helper()
	s := &service{log: filepath.Join(dir, name+".log")}
	out, err := os.Create(s.log)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(command, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = out, out, env
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting %s: %v", name, err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		out.Close()
	})
	if urlPattern == "" {
		return s
	}
	re := regexp.MustCompile(urlPattern)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(s.output()); m != nil {
			s.url = m[1]
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("%s did not say where it listens within 30 s:\n%s", name, s.output())
	return nil
}

// serveReverseProxy is the floor path: Go's own reverse proxy, passing each
// request to upstream as it came, in a process of its own (this test
// binary, started again). It says where it listens as the gateway does.
func serveReverseProxy(upstream string) int {
	target, err := url.Parse(upstream)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	// As many idle connections upstream as the gateway keeps.
	proxy.Transport = &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("Reverse proxy to %s on http://%s\n", upstream, ln.Addr())
	srv := &http.Server{Handler: proxy}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() { <-stop; srv.Close() }()
	srv.Serve(ln)
	return 0
}

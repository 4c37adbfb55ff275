package emulator_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"spillway/engine/simaws/emulator"
	"spillway/scenarios"
)

// The emulator's HTTP limits are set low here so that the tests wait
// fractions of a second; every wait for the emulator to act is bounded by
// a generous deadline and never asserted as a duration.

const (
	shortLimit = 300 * time.Millisecond
	generous   = 10 * time.Second
)

func dial(t *testing.T, url string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// closedByServer reads conn until the emulator closes it, and fails the
// test if it is still open after the generous deadline. It returns what
// was read.
func closedByServer(t *testing.T, conn net.Conn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(generous))
	got, err := io.ReadAll(conn)
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("the connection was still open after %v; read so far: %q", generous, clip(string(got)))
	}
	return string(got)
}

func TestSlowBodyIsCutOffByTheReadTimeout(t *testing.T) {
	f := start(t, emulator.Options{ReadTimeout: shortLimit})
	conn := dial(t, f.url)
	// A body that would take days at a byte every 50 ms.
	io.WriteString(conn, "POST /model/"+profileID+"/converse HTTP/1.1\r\nHost: emulator\r\n"+
		"Authorization: "+authorization(f.accessID, "us-east-1")+"\r\nContent-Length: 10000000\r\n\r\n{")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	reply := closedByServer(t, conn)
	if !strings.HasPrefix(reply, "HTTP/1.1 408") || !strings.Contains(reply, "RequestTimeoutException") {
		t.Fatalf("reply to a body that never finished: %q; want 408 RequestTimeoutException", clip(reply))
	}
}

func TestIdleKeepAliveConnectionsAreClosed(t *testing.T) {
	f := start(t, emulator.Options{IdleTimeout: shortLimit})
	conn := dial(t, f.url)
	body := `{}`
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: emulator\r\nX-Amz-Target: Logs_20140328.DescribeLogGroups\r\n"+
		"Authorization: "+authorization(f.accessID, "us-east-1")+"\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("first reply: %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	conn.SetReadDeadline(time.Now().Add(generous))
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("an idle keep-alive connection: %v; want it closed by the emulator", err)
	}
}

// A call's simulated latency is slept after its body has been read, so a
// latency longer than the read timeout must still be answered.
func TestLatencyOutlastingTheReadTimeoutIsStillAnswered(t *testing.T) {
	s := world()
	s.Models = []scenarios.Model{{ID: profileID, LatencyP50: 3 * shortLimit, LatencyP95: 3 * shortLimit}}
	emu := emulator.New(s, nil, 1, epoch, emulator.Options{Sleep: true, ReadTimeout: shortLimit})
	url, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	status, code, body := raw(t, url, "/model/"+profileID+"/converse", nil,
		[]byte(`{"messages":[{"role":"user","content":[{"text":"x"}]}]}`))
	if status != 200 || !strings.Contains(body, `"latencyMs":900`) {
		t.Fatalf("a call slower than the read timeout: %d %s %s", status, code, body)
	}
}

func TestRepliesToClientsThatStopReadingAreCut(t *testing.T) {
	f := start(t, emulator.Options{WriteTimeout: shortLimit})
	// A thousand queries of the longest text make a DescribeQueries reply
	// of 10 MB: more than the sockets between the two ends can buffer.
	query := "stats count(*)" + strings.Repeat(" ", emulator.MaxQueryLength-len("stats count(*)"))
	for range 1000 {
		if _, err := f.startQueryString(query); err != nil {
			t.Fatal(err)
		}
	}
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{}`
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: emulator\r\nConnection: close\r\nX-Amz-Target: Logs_20140328.DescribeQueries\r\n"+
		"Authorization: "+authorization(f.accessID, "us-east-1")+"\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	// Wait for the reply to start, then stop reading long enough for the
	// emulator's write deadline to pass while it is blocked.
	first := make([]byte, 1)
	conn.SetReadDeadline(time.Now().Add(generous))
	if _, err := io.ReadFull(conn, first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * shortLimit)
	conn.SetReadDeadline(time.Now().Add(generous))
	rest, err := io.ReadAll(conn)
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("the connection was still open after %v", generous)
	}
	if got := 1 + len(rest); got > 1000*emulator.MaxQueryLength {
		t.Fatalf("a client that stopped reading got the whole %d-byte reply, want it cut at the write deadline", got)
	}
}

func TestConnectionsBeyondTheCapWait(t *testing.T) {
	f := start(t, emulator.Options{MaxConnections: 2})
	held := []net.Conn{dial(t, f.url), dial(t, f.url)}
	// Make sure the emulator has accepted both before the third arrives.
	for _, c := range held {
		body := `{}`
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: emulator\r\nX-Amz-Target: Logs_20140328.DescribeLogGroups\r\n"+
			"Authorization: "+authorization(f.accessID, "us-east-1")+"\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	third := make(chan error, 1)
	go func() {
		client := &http.Client{Transport: &http.Transport{}}
		_, err := client.Do(mustRequest(f.url))
		third <- err
	}()
	select {
	case err := <-third:
		t.Fatalf("a third connection was served while two were held open with a cap of 2: %v", err)
	case <-time.After(shortLimit):
	}
	held[0].Close()
	select {
	case err := <-third:
		if err != nil {
			t.Fatalf("the third connection, once one closed: %v", err)
		}
	case <-time.After(generous):
		t.Fatalf("the third connection was not served within %v of a slot freeing", generous)
	}
}

func mustRequest(url string) *http.Request {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url+"/", strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "Logs_20140328.DescribeLogGroups")
	req.Header.Set("Authorization", authorization(emulator.AccessKeyID("acct"), "us-east-1"))
	return req
}

// An SDK client that keeps connections alive longer than the emulator does
// redials by itself: the emulator closing an idle connection never fails
// a call, even with the SDK's retries off.
func TestSDKRedialsAfterTheEmulatorClosesIdleConnections(t *testing.T) {
	f := start(t, emulator.Options{ReadTimeout: shortLimit, IdleTimeout: shortLimit, WriteTimeout: shortLimit, MaxConnections: 4})
	for range 3 {
		if _, err := f.logs.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * shortLimit) // past the idle timeout: the SDK must redial by itself
	}
	if _, err := f.logs.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("B")}); err != nil {
		t.Fatal(err)
	}
}

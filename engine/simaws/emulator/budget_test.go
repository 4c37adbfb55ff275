package emulator

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"
)

// These tests shrink the emulator's shared budgets so that a few
// connections fill them. Waits for the emulator are bounded by a generous
// deadline and never asserted as durations.

const (
	aWhile   = 300 * time.Millisecond
	generous = 10 * time.Second
)

func signed(req *http.Request) *http.Request {
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+AccessKeyID("acct")+"/20261121/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0")
	return req
}

// answered sends req on its own connection and reports its status, or an
// error, on the channel returned.
func answered(req *http.Request) <-chan error {
	done := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
			}
		}
		done <- err
	}()
	return done
}

// waits checks that done stays silent for a while, then that it reports
// success within the generous deadline once free has run.
func waits(t *testing.T, done <-chan error, free func()) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("answered while the budget was full: %v", err)
	case <-time.After(aWhile):
	}
	free()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(generous):
		t.Fatalf("not answered within %v of the budget freeing", generous)
	}
}

// busy checks that done reports the busy error code within the generous
// deadline.
func busy(t *testing.T, done <-chan error, code string) {
	t.Helper()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), code) {
			t.Fatalf("got %v, want %s", err, code)
		}
	case <-time.After(generous):
		t.Fatalf("no answer within %v; a full budget must give a busy error, not a hang", generous)
	}
}

const converseBody = `{"messages":[{"role":"user","content":[{"text":"x"}]}]}`

// stalledBody starts a Converse call that promises a body of size bytes,
// sends the first sent of them and stops, holding its connection open.
func stalledBody(t *testing.T, url string, size, sent int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	body := converseBody + strings.Repeat(" ", size-len(converseBody))
	io.WriteString(conn, "POST /model/"+model+"/converse HTTP/1.1\r\nHost: emulator\r\n"+
		"Authorization: AWS4-HMAC-SHA256 Credential="+AccessKeyID("acct")+"/20261121/us-east-1/bedrock/aws4_request\r\n"+
		"Content-Length: "+strconv.Itoa(size)+"\r\n\r\n"+body[:sent])
	return conn
}

// fullBudget makes s's body budget 1000 bytes and fills 900 of them with a
// body that stalls; it returns the stalled connection.
func fullBudget(t *testing.T, s *Server, url string) net.Conn {
	t.Helper()
	s.bodies = semaphore.NewWeighted(1000)
	conn := stalledBody(t, url, 950, 900)
	for deadline := time.Now().Add(generous); s.bodies.TryAcquire(101); {
		s.bodies.Release(101)
		if time.Now().After(deadline) {
			t.Fatal("the stalled body never took its share of the budget")
		}
		time.Sleep(time.Millisecond)
	}
	return conn
}

func converse(url string, size int) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, url+"/model/"+model+"/converse",
		strings.NewReader(converseBody+strings.Repeat(" ", size-len(converseBody))))
	return signed(req)
}

// Connections that promise large bodies and send nothing more hold none of
// the budget: eight of them cannot stop everyone else.
func TestPromisedBodiesHoldNoBudget(t *testing.T) {
	s, url, _ := serve(t, Options{})
	s.bodies = semaphore.NewWeighted(1000)
	for range 8 {
		stalledBody(t, url, 800, 1)
	}
	select {
	case err := <-answered(converse(url, 300)):
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(generous):
		t.Fatal("a call waited behind connections that promised bodies but sent one byte")
	}
}

// Bytes that have arrived count: a call beyond the budget waits for room.
func TestBodiesBeyondTheBodyBudgetWait(t *testing.T) {
	s, url, _ := serve(t, Options{})
	conn := fullBudget(t, s, url)
	waits(t, answered(converse(url, 300)), func() { conn.Close() })
}

// A budget that stays full gives a busy error soon, not a hang.
func TestAFullBodyBudgetAnswersBusy(t *testing.T) {
	s, url, _ := serve(t, Options{})
	s.busyWait = aWhile
	fullBudget(t, s, url)
	busy(t, answered(converse(url, 300)), "ServiceUnavailableException")
}

// holdLogsSlot makes s serve one Logs call at once and takes that slot
// with a DescribeQueries reply of 10 MB, more than sockets buffer, whose
// reader stops reading once it has started.
func holdLogsSlot(t *testing.T, s *Server, url string) net.Conn {
	t.Helper()
	s.logsCalls = make(chan struct{}, 1)
	s.logs.mu.Lock()
	for i := range keptQueries {
		s.logs.add(&storedQuery{id: strconv.Itoa(i), account: "acct", group: "BedrockModelInvocation",
			text: strings.Repeat("x", MaxQueryLength), created: start, startedAt: start, done: true}, start)
	}
	s.logs.mu.Unlock()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	reader, err := d.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	io.WriteString(reader, "POST / HTTP/1.1\r\nHost: emulator\r\nX-Amz-Target: Logs_20140328.DescribeQueries\r\n"+
		"Authorization: AWS4-HMAC-SHA256 Credential="+AccessKeyID("acct")+"/20261121/us-east-1/logs/aws4_request\r\n"+
		"Content-Length: 2\r\n\r\n{}")
	reader.SetReadDeadline(time.Now().Add(generous))
	if _, err := io.ReadFull(reader, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	return reader
}

func describeLogGroups(url string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "Logs_20140328.DescribeLogGroups")
	return signed(req)
}

func TestLogsCallsBeyondTheLimitWaitForOneToFinish(t *testing.T) {
	s, url, _ := serve(t, Options{})
	reader := holdLogsSlot(t, s, url)
	waits(t, answered(describeLogGroups(url)), func() { reader.Close() })
}

// Logs calls that stay busy give CloudWatch's throttling error soon, not a
// hang.
func TestBusyLogsCallsAnswerThrottling(t *testing.T) {
	s, url, _ := serve(t, Options{})
	s.busyWait = aWhile
	holdLogsSlot(t, s, url)
	busy(t, answered(describeLogGroups(url)), "ThrottlingException")
}

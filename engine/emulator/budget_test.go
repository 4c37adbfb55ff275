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
				err = fmt.Errorf("status %d", resp.StatusCode)
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

func TestBodiesBeyondTheBodyBudgetWait(t *testing.T) {
	s, url, _ := serve(t, Options{})
	s.bodies = semaphore.NewWeighted(1000)
	body := `{"messages":[{"role":"user","content":[{"text":"x"}]}]}`
	slow := body + strings.Repeat(" ", 800-len(body))
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// An 800-byte body that has sent one byte holds 800 of the 1000.
	io.WriteString(conn, "POST /model/"+model+"/converse HTTP/1.1\r\nHost: emulator\r\n"+
		"Authorization: AWS4-HMAC-SHA256 Credential="+AccessKeyID("acct")+"/20261121/us-east-1/bedrock/aws4_request\r\n"+
		"Content-Length: 800\r\n\r\n"+slow[:1])
	for deadline := time.Now().Add(generous); s.bodies.TryAcquire(201); {
		s.bodies.Release(201)
		if time.Now().After(deadline) {
			t.Fatal("the slow body never took its share of the budget")
		}
		time.Sleep(time.Millisecond)
	}
	fast := body + strings.Repeat(" ", 300-len(body))
	req, _ := http.NewRequest(http.MethodPost, url+"/model/"+model+"/converse", strings.NewReader(fast))
	waits(t, answered(signed(req)), func() { io.WriteString(conn, slow[1:]) })
}

func TestLogsCallsBeyondTheLimitWaitForOneToFinish(t *testing.T) {
	s, url, _ := serve(t, Options{})
	s.logsCalls = make(chan struct{}, 1)
	// A DescribeQueries reply of 10 MB, more than sockets buffer.
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
	defer reader.Close()
	io.WriteString(reader, "POST / HTTP/1.1\r\nHost: emulator\r\nX-Amz-Target: Logs_20140328.DescribeQueries\r\n"+
		"Authorization: AWS4-HMAC-SHA256 Credential="+AccessKeyID("acct")+"/20261121/us-east-1/logs/aws4_request\r\n"+
		"Content-Length: 2\r\n\r\n{}")
	// Once the reply has started, stop reading: the emulator blocks writing
	// it, holding the only Logs slot.
	reader.SetReadDeadline(time.Now().Add(generous))
	if _, err := io.ReadFull(reader, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "Logs_20140328.DescribeLogGroups")
	waits(t, answered(signed(req)), func() { reader.Close() })
}

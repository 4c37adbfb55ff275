package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"spillway/engine/wire"
	"spillway/scenarios"
)

// FaultClient starts, stops and lists the faults of an emulator through its
// fault API (FaultsPath): a standalone spillway emulator, or a run's
// embedded one. The zero value is not usable; set Endpoint.
type FaultClient struct {
	// Endpoint is the emulator's URL, such as http://127.0.0.1:4599.
	Endpoint string
	// HTTP sends the requests; nil means a client that gives up after
	// defaultFaultClientTimeout. A context's deadline applies as well.
	HTTP *http.Client
}

// defaultFaultClientTimeout bounds a request of a FaultClient without its
// own http.Client: the emulator answers these at once.
const defaultFaultClientTimeout = 30 * time.Second

var defaultFaultHTTP = &http.Client{Timeout: defaultFaultClientTimeout}

// ErrNoEmulator is in the error of a request that nothing answered at
// the endpoint: nothing listens there, or it did not answer in time.
var ErrNoEmulator = errors.New("no emulator answered")

// FaultAPIError is the emulator's answer to a request it refused, with its
// message, which names the key at fault.
type FaultAPIError struct {
	Status  int // HTTP status, such as 400 or 404
	Message string
}

func (e *FaultAPIError) Error() string { return e.Message }

// NotFound reports whether the emulator had no such fault on.
func (e *FaultAPIError) NotFound() bool { return e.Status == http.StatusNotFound }

// faultStart is the POST body the client sends: typed, where the emulator
// reads the same keys loosely so that it can name a wrong type.
type faultStart struct {
	Kind     scenarios.FaultKind `json:"kind"`
	Account  string              `json:"account,omitempty"`
	Region   string              `json:"region,omitempty"`
	Model    string              `json:"model,omitempty"`
	Rate     float64             `json:"rate,omitempty"`
	QuotaRPM scenarios.RPM       `json:"quota_rpm,omitempty"`
	Factor   float64             `json:"factor,omitempty"`
	Error    string              `json:"error,omitempty"`
	Tokens   *int                `json:"tokens,omitempty"` // the streaming faults': 0 is a value
	Stall    string              `json:"stall,omitempty"`
	Duration string              `json:"duration,omitempty"`
	FromNS   int64               `json:"from_ns,omitempty"`
	ToNS     int64               `json:"to_ns,omitempty"`
}

// Start makes the emulator's fleet show f from `from` until `to`, and
// returns the id the emulator gave it. A zero from is the emulator's now; a
// zero to is f.Duration after the start, or until Stop when that is zero
// too. from and to are on the emulator's time: simulated time for a run's
// embedded emulator, the wall clock for a standalone one. f.At, which
// counts from a run's start, is not sent.
//
// The emulator checks f by a scenario file's rules; a fault it refuses is
// a *FaultAPIError saying why.
func (c *FaultClient) Start(ctx context.Context, f scenarios.Fault, from, to time.Time) (int, error) {
	body := faultStart{Kind: f.Kind, Account: f.Account, Region: f.Region, Model: f.Model,
		Rate: f.Rate, QuotaRPM: f.QuotaRPM, Factor: f.Factor, Error: f.Error}
	if f.Kind == scenarios.StreamCut || f.Kind == scenarios.StreamStall || f.Kind == scenarios.StreamError {
		body.Tokens = &f.Tokens
	}
	if f.Stall > 0 {
		body.Stall = f.Stall.String()
	}
	if f.Kind == scenarios.StreamCut && f.Rate >= 1 {
		body.Rate = 0 // the default: every stream
	}
	if !from.IsZero() {
		body.FromNS = from.UnixNano()
	}
	switch {
	case !to.IsZero():
		body.ToNS = to.UnixNano()
	case f.Duration != 0:
		body.Duration = f.Duration.String() // exact: ParseDuration reads back every nanosecond
	}
	b, err := json.Marshal(body)
	if err != nil {
		return 0, fmt.Errorf("fault %s: %w", f, err)
	}
	// The request is made at the fault's start, so that an emulator on
	// simulated time judges what else is in effect then, not at its wall
	// clock, which a run at any speed above 1 has left behind.
	var started FaultState
	if err := c.do(ctx, http.MethodPost, FaultsPath, from, b, http.StatusCreated, &started); err != nil {
		return 0, err
	}
	return started.ID, nil
}

// Stop ends fault id at at, a zero at being the emulator's now. A fault the
// emulator does not have on is a *FaultAPIError whose NotFound is true.
func (c *FaultClient) Stop(ctx context.Context, id int, at time.Time) error {
	return c.do(ctx, http.MethodDelete, FaultsPath+"/"+strconv.Itoa(id), at, nil, http.StatusOK, nil)
}

// List returns the faults in effect or still to start, by id.
func (c *FaultClient) List(ctx context.Context) ([]FaultState, error) {
	var list struct {
		Faults []FaultState `json:"faults"`
	}
	if err := c.do(ctx, http.MethodGet, FaultsPath, time.Time{}, nil, http.StatusOK, &list); err != nil {
		return nil, err
	}
	return list.Faults, nil
}

// maxFaultReply bounds a reply the client reads: MaxFaults faults of a few
// hundred bytes, with room to spare.
const maxFaultReply = 4 << 20

// do sends one request. A non-zero at is sent as the request's simulated
// time; out, if not nil, receives the reply.
func (c *FaultClient) do(ctx context.Context, method, path string, at time.Time, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("fault API at %s: %w", c.Endpoint, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !at.IsZero() {
		req.Header.Set(wire.TimeHeader, strconv.FormatInt(at.UnixNano(), 10))
	}
	client := c.HTTP
	if client == nil {
		client = defaultFaultHTTP
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == context.Canceled {
			return err
		}
		return fmt.Errorf("fault API at %s: %w: %w", c.Endpoint, ErrNoEmulator, err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxFaultReply))
	if err != nil {
		return fmt.Errorf("fault API at %s: reading the reply: %w", c.Endpoint, err)
	}
	if resp.StatusCode != want {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(reply, &e) != nil || e.Message == "" {
			// Not the emulator's fault API answering, such as another
			// server on the port.
			e.Message = fmt.Sprintf("%s %s%s answered %s, not the emulator's fault API: %s",
				method, c.Endpoint, path, resp.Status, clip(strings.TrimSpace(string(reply))))
		}
		return &FaultAPIError{Status: resp.StatusCode, Message: e.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(reply, out); err != nil {
		return fmt.Errorf("fault API at %s: the reply to %s %s is not what the emulator sends: %w", c.Endpoint, method, path, err)
	}
	return nil
}

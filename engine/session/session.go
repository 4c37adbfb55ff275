// Package session wires one run together: a scenario, the backend it talks
// to (the embedded emulator, real AWS, or an AWS-compatible endpoint), the
// routing engine and the recorder. The command line starts one run this way;
// the dashboard starts one per re-run or scenario switch, each with a fresh
// backend, so a re-run with the same seed replays the same experiment.
package session

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"spillway/engine"
	"spillway/engine/bedrock"
	"spillway/engine/emulator"
	"spillway/engine/fleet"
	"spillway/engine/record"
	"spillway/scenarios"
)

// Config is what stays the same across the runs of one invocation.
type Config struct {
	File     *scenarios.File
	Seed     uint64
	Speed    float64
	Backend  string // "sim": the embedded emulator; "aws": real AWS, or Endpoint
	Endpoint string // with "aws": send every call here instead
	// TimelineDir is where each recorder spools the full event timeline, so
	// exports carry "events"; empty keeps no timeline.
	TimelineDir string
}

// Backend describes what a run talks to, for people and for the record.
type Backend struct {
	Badge  string // SIMULATED, EMULATED ENDPOINT or LIVE AWS: what nobody may miss
	Detail string // the rest of the header line
	Label  string // badge and detail as one line
	Meta   record.Meta
	// AccountIDs are the account ids the backend resolved, by account name.
	AccountIDs map[string]string
}

// Live reports whether calls go to real AWS and cost money.
func (b Backend) Live() bool { return b.Meta.Backend == "aws" }

// Run is one prepared run. The engine has not started; call Engine.Run.
type Run struct {
	Scenario *scenarios.Scenario
	Engine   *engine.Engine
	Recorder *record.Recorder
	Backend  Backend
	close    func()
}

// Close releases the run's backend and the recorder's spooled timeline.
// Call it after the run has ended and its record has been written.
func (r *Run) Close() {
	r.Recorder.Close()
	r.close()
}

// Start connects a backend for s and prepares a run on it. rpm overrides
// bucket limits from the file, as a re-run keeps what was tuned.
func Start(ctx context.Context, cfg Config, s *scenarios.Scenario, rpm map[engine.BucketID]scenarios.RPM) (*Run, error) {
	rec := record.New(record.Meta{})
	if cfg.TimelineDir != "" {
		if err := rec.KeepTimeline(cfg.TimelineDir); err != nil {
			return nil, fmt.Errorf("cannot keep the event timeline in %s: %w", cfg.TimelineDir, err)
		}
	}
	client, b, faults, closeBackend, err := connect(ctx, cfg, s)
	if err != nil {
		rec.Close()
		return nil, err
	}
	rec.SetMeta(b.Meta)
	opts := engine.Options{Seed: cfg.Seed, Speed: cfg.Speed, Backend: client, Logs: client}
	if faults != nil {
		opts.Faults = faults
	}
	eng, err := engine.New(s, opts)
	if err != nil {
		rec.Close()
		closeBackend()
		return nil, err
	}
	for id, limit := range rpm {
		if err := eng.SetRPM(id, limit); err != nil {
			rec.Close()
			closeBackend()
			return nil, err
		}
	}
	eng.Subscribe(rec)
	return &Run{Scenario: s, Engine: eng, Recorder: rec, Backend: b, close: closeBackend}, nil
}

// connect starts the embedded emulator for the sim backend and loads every
// account's SDK clients. Only the embedded emulator's fleet can be made to
// fail on demand, so only it comes back as a fault injector.
func connect(ctx context.Context, cfg Config, s *scenarios.Scenario) (*bedrock.Client, Backend, *fleet.Fleet, func(), error) {
	closeBackend := func() {}
	var faults *fleet.Fleet
	target := bedrock.Target{Endpoint: cfg.Endpoint}
	if cfg.Backend == "sim" {
		emu := emulator.New(s, cfg.File.Models, cfg.Seed, time.Now(), emulator.Options{})
		url, err := emu.Listen("127.0.0.1:0")
		if err != nil {
			return nil, Backend{}, nil, nil, fmt.Errorf("starting the embedded emulator: %w", err)
		}
		closeBackend = func() { emu.Close() }
		faults = emu.Fleet()
		target = bedrock.Target{
			Endpoint: url,
			Virtual:  true,
			Credentials: func(a scenarios.Account) aws.CredentialsProvider {
				return credentials.NewStaticCredentialsProvider(emulator.AccessKeyID(a.Name), emulator.SecretAccessKey, "")
			},
		}
	}
	client, err := bedrock.Connect(ctx, s, target)
	if err != nil {
		closeBackend()
		if cfg.Backend == "sim" {
			return nil, Backend{}, nil, nil, fmt.Errorf("the embedded emulator did not answer: %w; this is a bug, please report it", err)
		}
		return nil, Backend{}, nil, nil, err
	}
	b := Backend{AccountIDs: map[string]string{}}
	var accounts []string
	for _, a := range client.Accounts() {
		accounts = append(accounts, fmt.Sprintf("%s %s (%s)", a.Spec.Name, a.Masked(), a.Spec.Region))
		b.AccountIDs[a.Spec.Name] = a.AccountID
	}
	switch {
	case cfg.Backend == "sim":
		b.Badge, b.Detail = "SIMULATED", "embedded emulator at "+target.Endpoint+" via aws-sdk-go-v2; no AWS calls, no credentials"
		b.Meta = record.Meta{Backend: "simulated", Endpoint: target.Endpoint}
	case cfg.Endpoint != "":
		b.Badge, b.Detail = "EMULATED ENDPOINT", cfg.Endpoint+" via aws-sdk-go-v2, not AWS — accounts "+strings.Join(accounts, ", ")
		b.Meta = record.Meta{Backend: "endpoint", Endpoint: cfg.Endpoint}
	default:
		b.Badge, b.Detail = "LIVE AWS", "Amazon Bedrock and CloudWatch Logs; accounts "+strings.Join(accounts, ", ")
		b.Meta = record.Meta{Backend: "aws"}
	}
	b.Label = b.Badge + " — " + b.Detail
	if cfg.Endpoint != "" {
		b.Label = b.Badge + " " + b.Detail
	}
	return client, b, faults, closeBackend, nil
}

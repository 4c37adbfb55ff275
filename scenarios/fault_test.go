package scenarios

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// keysAndMessages lists errors without its file and place: what a fault
// checked on its own and the same fault in a file have in common.
func keysAndMessages(es Errors, prefix string) []string {
	var out []string
	for _, e := range es {
		out = append(out, strings.TrimPrefix(e.Key, prefix)+": "+e.Msg)
	}
	slices.Sort(out)
	return out
}

// A fault sent as JSON to CheckFault gets the errors, keys and messages the
// same fault gets in a scenario file, and the same Fault when it is sound.
func TestCheckFaultMatchesTheFile(t *testing.T) {
	cases := []struct {
		name, toml, json string
		ok               bool
	}{
		{"sound throttle", `kind = "throttle"` + "\n" + `account = "acc"` + "\n" + `rate = 0.5` + "\n" + `duration = "30s"`,
			`{"kind":"throttle","account":"acc","rate":0.5,"duration":"30s"}`, true},
		{"sound quota cut", `kind = "quota"` + "\n" + `account = "acc"` + "\n" + `quota_rpm = "unlimited"`,
			`{"kind":"quota","account":"acc","quota_rpm":"unlimited"}`, true},
		{"sound outage", `kind = "region-outage"` + "\n" + `region = "us-east-1"` + "\n" + `model = "us.anthropic.claude-sonnet-4-20250514-v1:0"`,
			`{"kind":"region-outage","region":"us-east-1","model":"us.anthropic.claude-sonnet-4-20250514-v1:0"}`, true},
		{"outage without region", `kind = "region-outage"`, `{"kind":"region-outage"}`, false},
		{"unknown kind", `kind = "meteor"`, `{"kind":"meteor"}`, false},
		{"no kind", `region = "us-east-1"`, `{"region":"us-east-1"}`, false},
		{"rate zero", `kind = "throttle"` + "\n" + `rate = 0`, `{"kind":"throttle","rate":0}`, false},
		{"rate above one", `kind = "throttle"` + "\n" + `rate = 1.5`, `{"kind":"throttle","rate":1.5}`, false},
		{"rate as text", `kind = "throttle"` + "\n" + `rate = "high"`, `{"kind":"throttle","rate":"high"}`, false},
		{"rate on an outage", `kind = "region-outage"` + "\n" + `region = "us-east-1"` + "\n" + `rate = 0.5`,
			`{"kind":"region-outage","region":"us-east-1","rate":0.5}`, false},
		{"unknown error", `kind = "errors"` + "\n" + `rate = 0.2` + "\n" + `error = "Boom"`, `{"kind":"errors","rate":0.2,"error":"Boom"}`, false},
		{"errors without error", `kind = "errors"` + "\n" + `rate = 0.2`, `{"kind":"errors","rate":0.2}`, false},
		{"quota without account", `kind = "quota"` + "\n" + `quota_rpm = 2`, `{"kind":"quota","quota_rpm":2}`, false},
		{"quota of an unknown account", `kind = "quota"` + "\n" + `account = "nobody"` + "\n" + `quota_rpm = 2`,
			`{"kind":"quota","account":"nobody","quota_rpm":2}`, false},
		{"fractional quota", `kind = "quota"` + "\n" + `account = "acc"` + "\n" + `quota_rpm = 2.5`,
			`{"kind":"quota","account":"acc","quota_rpm":2.5}`, false},
		{"quota without quota_rpm", `kind = "quota"` + "\n" + `account = "acc"`, `{"kind":"quota","account":"acc"}`, false},
		{"factor too high", `kind = "latency"` + "\n" + `factor = 101`, `{"kind":"latency","factor":101}`, false},
		{"duration too long", `kind = "latency"` + "\n" + `factor = 2` + "\n" + `duration = "169h"`,
			`{"kind":"latency","factor":2,"duration":"169h"}`, false},
		{"duration not a duration", `kind = "latency"` + "\n" + `factor = 2` + "\n" + `duration = 30`,
			`{"kind":"latency","factor":2,"duration":30}`, false},
	}
	world := mustParse(t, base).Scenarios[0]
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := base + "\n  [[scenario.fault]]\n  " + strings.ReplaceAll(c.toml, "\n", "\n  ") + "\n"
			file, fileErr := Parse("f.toml", []byte(src))
			var in FaultInput
			if err := json.Unmarshal([]byte(c.json), &in); err != nil {
				t.Fatal(err)
			}
			got, err := world.CheckFault(in, nil)
			if c.ok {
				if fileErr != nil || err != nil {
					t.Fatalf("file: %v; CheckFault: %v", fileErr, err)
				}
				want := file.Scenarios[0].Faults[0]
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("CheckFault = %+v, the file gives %+v", got, want)
				}
				return
			}
			var fileErrs, errs Errors
			if !errors.As(fileErr, &fileErrs) || !errors.As(err, &errs) {
				t.Fatalf("want errors from both; file: %v; CheckFault: %v", fileErr, err)
			}
			want, have := keysAndMessages(fileErrs, "scenario.fault."), keysAndMessages(errs, "")
			if !reflect.DeepEqual(have, want) {
				t.Fatalf("CheckFault says\n  %s\nthe file says\n  %s", strings.Join(have, "\n  "), strings.Join(want, "\n  "))
			}
			for _, e := range errs {
				if e.File != "" || e.Pos != (Pos{}) || !strings.HasPrefix(e.Error(), e.Key+": ") {
					t.Errorf("a fault on its own has no file or place: %q", e.Error())
				}
			}
		})
	}
}

// Latency faults in effect multiply with a new one, under the file's bound
// for a scenario's latency faults together.
func TestCheckFaultBoundsSlowdownsTogether(t *testing.T) {
	world := mustParse(t, base).Scenarios[0]
	others := []Fault{{Kind: SlowDown, Factor: 100}, {Kind: ThrottleStorm, Rate: 1}}
	if _, err := world.CheckFault(FaultInput{Kind: "latency", Factor: 100.0}, others); err != nil {
		t.Fatalf("×100 beside ×100 is the limit itself: %v", err)
	}
	_, err := world.CheckFault(FaultInput{Kind: "latency", Factor: 2.0}, append(others, Fault{Kind: SlowDown, Factor: 100}))
	if err == nil || !strings.HasPrefix(err.Error(), "factor: latency faults multiply where they overlap") ||
		!strings.Contains(err.Error(), "×20000, over the ×10000 limit") {
		t.Fatalf("×2 beside ×100 × ×100: %v", err)
	}
	if _, err := world.CheckFault(FaultInput{Kind: "latency", Factor: 0.5}, append(others, Fault{Kind: SlowDown, Factor: 100})); err != nil {
		t.Fatalf("a speed-up never counts against the bound: %v", err)
	}
}

func TestRPMRoundTripsThroughJSON(t *testing.T) {
	for _, rpm := range []RPM{Unlimited, 2, 2147483647} {
		b, err := json.Marshal(rpm)
		if err != nil {
			t.Fatal(err)
		}
		var back RPM
		if err := json.Unmarshal(b, &back); err != nil || back != rpm {
			t.Fatalf("%v → %s → %v, %v", rpm, b, back, err)
		}
	}
	var r RPM
	if err := json.Unmarshal([]byte(`"lots"`), &r); err == nil {
		t.Fatal(`"lots" read as an rpm`)
	}
}

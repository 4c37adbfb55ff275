package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"spillway/engine/record"
	"spillway/scenarios"
)

// exportSchema is the published schema, compiled by a real validator.
func exportSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(record.SchemaJSON))
	if err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(record.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(record.SchemaID)
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, name string, export []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(export))
	if err != nil {
		t.Fatalf("%s: the export is not JSON: %v", name, err)
	}
	return s.Validate(doc)
}

// Every built-in scenario's export, with its whole event timeline,
// validates against the published schema; 'spillway schema' prints it.
func TestEveryExportMatchesTheSchema(t *testing.T) {
	s := exportSchema(t)
	f, err := scenarios.Load("scenarios.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range f.Scenarios {
		if sc.ServesClients() {
			continue // a gateway session's record is checked in TestGatewaySessionIsARecordedRun
		}
		name := sc.Name
		status, out, errOut := spillway("run", name, "--speed", "max", "--json", "-")
		if status != 0 {
			t.Fatalf("%s: %d %s", name, status, errOut)
		}
		if err := validate(t, s, name, []byte(out)); err != nil {
			t.Errorf("%s: the export does not match the schema:\n%v", name, err)
		}
		if !strings.Contains(out, `"events": [`) {
			t.Errorf("%s: the export has no event timeline", name)
		}
	}
	if status, out, _ := spillway("schema"); status != 0 || out != string(record.SchemaJSON) {
		t.Fatalf("spillway schema: %d, %d bytes", status, len(out))
	}
}

// The schema describes every field there is and no more: an export with a
// field it does not know fails, so a field added to the export without the
// schema fails the test above.
func TestTheSchemaRefusesAFieldItDoesNotDescribe(t *testing.T) {
	s := exportSchema(t)
	status, out, _ := spillway("run", "fallback", "--speed", "max", "--json", "-")
	if status != 0 {
		t.Fatal(status)
	}
	places := map[string]func(doc map[string]any) map[string]any{
		"the top":     func(d map[string]any) map[string]any { return d },
		"the summary": func(d map[string]any) map[string]any { return d["summary"].(map[string]any) },
		"a request":   func(d map[string]any) map[string]any { return d["requests"].([]any)[0].(map[string]any) },
		"an attempt": func(d map[string]any) map[string]any {
			return d["requests"].([]any)[0].(map[string]any)["attempts"].([]any)[0].(map[string]any)
		},
		"an event":      func(d map[string]any) map[string]any { return d["events"].([]any)[0].(map[string]any) },
		"a bucket":      func(d map[string]any) map[string]any { return d["buckets"].([]any)[0].(map[string]any) },
		"the token sum": func(d map[string]any) map[string]any { return d["summary"].(map[string]any)["tokens"].(map[string]any) },
	}
	for where, at := range places {
		var doc map[string]any
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if err := validate(t, s, where, []byte(out)); err != nil {
			t.Fatal(err)
		}
		at(doc)["surprise"] = 1
		b, _ := json.Marshal(doc)
		if err := validate(t, s, where, b); err == nil {
			t.Errorf("an unknown field in %s passed the schema", where)
		}
	}
}

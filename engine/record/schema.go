package record

import _ "embed"

// SchemaJSON is the JSON Schema (draft 2020-12) of the export, Schema
// "spillway/run/v1": kept beside the code that writes the export, and
// strict, so that a field added to the export without the schema fails the
// tests that validate every export against it.
//
//go:embed schema.json
var SchemaJSON []byte

// SchemaID is the schema's $id.
const SchemaID = "urn:spillway:schema:run:v1"

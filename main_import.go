package main

import (
	"fmt"
	"io"
	"os"

	"spillway/engine/record"
	"spillway/scenarios"
	"spillway/scenarios/litellm"
)

// importCommand is spillway import litellm CONFIG: a LiteLLM proxy config
// as a scenario file, on stdout or in -o FILE, with what it left out on
// stderr.
func importCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "litellm" {
		return usagef("import reads a LiteLLM proxy config: spillway import litellm config.yaml [-o scenarios.toml] [--name NAME]")
	}
	fs := newFlagSet("import litellm", stderr)
	out := fs.String("o", "", "write the scenario file to FILE instead of stdout")
	name := fs.String("name", "", "the scenario's name (default: the config's file name)")
	rest, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return flagError(err)
	}
	if len(rest) != 1 {
		return usagef("import litellm takes one config file, got %q", rest)
	}
	imp, err := importLiteLLM(rest[0], *name, stderr)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err := stdout.Write(imp.TOML)
		return err
	}
	if _, err := record.WriteAtomically(*out, func(w io.Writer) error { _, err := w.Write(imp.TOML); return err }); err != nil {
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	fmt.Fprintf(stderr, "Scenario %s written to %s; serve it with: spillway gateway %s --scenarios %s\n", imp.Name, *out, imp.Name, *out)
	return nil
}

// importLiteLLM converts the config at path, checks the scenario it makes
// parses, and tells stderr what was not carried over.
func importLiteLLM(path, name string, stderr io.Writer) (*litellm.Import, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the LiteLLM config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, litellm.MaxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	imp, err := litellm.Convert(path, data, name)
	if err != nil {
		return nil, err
	}
	if _, err := scenarios.Parse(path+" (imported)", imp.TOML); err != nil {
		return nil, fmt.Errorf("%s imports to a scenario Spillway refuses:\n%v", path, err)
	}
	if n := len(imp.Unmapped); n > 0 {
		fmt.Fprintf(stderr, "%d key(s) of %s were not carried over:\n", n, path)
		for _, note := range imp.Unmapped {
			fmt.Fprintf(stderr, "  %s\n", note)
		}
	}
	return imp, nil
}

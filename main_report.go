package main

import "io"

// reportCommand is written by the report work.
func reportCommand(args []string, stdout, stderr io.Writer) error {
	return usagef("report is not built yet")
}

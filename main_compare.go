package main

import "io"

// compareCommand is written by the compare work.
func compareCommand(args []string, stdout, stderr io.Writer) error {
	return usagef("compare is not built yet")
}

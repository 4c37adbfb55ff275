package fleet

import (
	"fmt"
	"reflect"
	"testing"
)

// The logs' records hold no pointers, so the garbage collector never scans
// them; their strings live once in a bounded table.
func TestStoredRecordsHoldNoPointersAndTheirSymbolsAreBounded(t *testing.T) {
	if kinds := pointerFields(reflect.TypeFor[stored]()); len(kinds) > 0 {
		t.Fatalf("stored has fields with pointers: %v", kinds)
	}
	table := newSymbols()
	a, b := table.of("us-east-1"), table.of("us-west-2")
	if table.of("us-east-1") != a || a == b || table.name(a) != "us-east-1" || table.name(b) != "us-west-2" {
		t.Fatalf("symbols: %d %d for two Regions", a, b)
	}
	for i := range 2 * maxSymbols {
		table.of(fmt.Sprint("model-", i))
	}
	if len(table.names) != maxSymbols || table.of("one more") != overflowSymbol {
		t.Fatalf("the table holds %d names; the bound is %d", len(table.names), maxSymbols)
	}
}

func pointerFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		switch f.Type.Kind() {
		case reflect.String, reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func:
			out = append(out, f.Name)
		case reflect.Struct:
			for _, inner := range pointerFields(f.Type) {
				out = append(out, f.Name+"."+inner)
			}
		}
	}
	return out
}

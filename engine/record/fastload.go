package record

import (
	"bytes"
	"encoding/json"
	"runtime"
	"sync"

	gojson "github.com/goccy/go-json"

	"spillway/engine"
)

// The layout Encode writes: the head, then one request per line, then one
// event per line. A file in that layout is read by splitting the lines and
// decoding them on every core, which opens an hour's record in a fraction
// of the time a streaming decode takes; any other layout (a record
// reformatted by another tool) takes the streaming decoder.
var (
	requestsOpen = []byte(",\n  \"requests\": [")
	eventsOpen   = []byte(",\n  \"events\": [")
	arrayClose   = []byte("\n  ]")
	itemBreak    = []byte("\n    ")
)

// decodeLaidOut reads data if it is in Encode's layout; ok is false when
// it is not, and the caller decodes it the general way.
func decodeLaidOut(data []byte, want parts) (out *Loaded, ok bool, err error) {
	if !bytes.HasPrefix(data, []byte("{\n  \"schema\": ")) {
		return nil, false, nil
	}
	headEnd := bytes.Index(data, requestsOpen)
	if headEnd < 0 {
		return nil, false, nil
	}
	rest := data[headEnd+len(requestsOpen):]
	requestLines, rest, found := cutArray(rest)
	if !found {
		return nil, false, nil
	}
	var eventLines [][]byte
	events := false
	if bytes.HasPrefix(rest, eventsOpen) {
		if eventLines, rest, found = cutArray(rest[len(eventsOpen):]); !found {
			return nil, false, nil
		}
		events = true
	}
	if string(bytes.TrimSpace(rest)) != "}" {
		return nil, false, nil
	}

	var head exportIn
	if err := json.Unmarshal(append(append([]byte(nil), data[:headEnd]...), '}'), &head); err != nil {
		return nil, false, nil // not what Encode writes after all
	}
	if err := checkSchema(head.Schema); err != nil {
		return nil, true, err
	}
	if head.Summary == nil {
		return nil, false, nil
	}
	if !want.requests {
		requestLines = nil
	}
	if !want.events {
		eventLines = nil
	}
	out = &Loaded{Schema: head.Schema, Requests: make([]Request, len(requestLines))}
	if events && want.events {
		out.Events = make([]engine.Event, len(eventLines))
	}
	failed := inParallel(len(requestLines), func(i int) bool {
		return gojson.Unmarshal(requestLines[i], &out.Requests[i]) == nil
	}) || inParallel(len(eventLines), func(i int) bool {
		var in eventIn
		if gojson.Unmarshal(eventLines[i], &in) != nil {
			return false
		}
		out.Events[i] = in.event()
		return true
	})
	if failed {
		return nil, false, nil
	}
	head.fill(out)
	if want.events {
		out.fixEvents()
	}
	return out, true, nil
}

// cutArray splits the items of an array Encode wrote, one per line, from
// what follows its closing bracket.
func cutArray(b []byte) (items [][]byte, rest []byte, ok bool) {
	end := bytes.Index(b, arrayClose)
	if end < 0 {
		return nil, nil, false
	}
	body := b[:end]
	if len(body) > 0 {
		if !bytes.HasPrefix(body, itemBreak) {
			return nil, nil, false
		}
		items = bytes.Split(body[len(itemBreak):], itemBreak)
		for i, item := range items {
			items[i] = bytes.TrimSuffix(item, []byte(","))
		}
	}
	return items, b[end+len(arrayClose):], true
}

// inParallel runs each for 0..n-1 on every core and reports whether any
// returned false.
func inParallel(n int, each func(i int) bool) (failed bool) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/1024))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * n / workers; i < (w+1)*n/workers; i++ {
				if !each(i) {
					mu.Lock()
					failed = true
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return failed
}

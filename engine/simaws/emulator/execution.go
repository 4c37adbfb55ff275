package emulator

import (
	"slices"
	"strconv"
	"strings"
)

// MaxResultRows is the most rows a Logs Insights query returns, as in
// CloudWatch, and the most rows or stats groups any command of a query holds
// while it runs (a sort holds up to twice as many between compactions).
const MaxResultRows = 10_000

// execution runs a query over records streamed to it one at a time. What it
// holds is bounded by MaxResultRows however many records a long-running
// emulator has, and it stays exact wherever that is cheap:
//
//   - Leading filter and fields commands run record by record and keep
//     nothing. A record that passes them all counts as matched.
//   - The first other command collects what it needs as records stream by:
//     stats counts in at most MaxResultRows groups (a record of a group first
//     seen after that is not counted); sort, with the limit that follows it
//     or else MaxResultRows, keeps the top rows exactly by compacting (when
//     it holds twice its limit it sorts them and drops the rest, so the
//     answer is the one a stable sort of every row gives); limit keeps the
//     first rows; and with none of them the first MaxResultRows rows are
//     kept.
//   - The commands after that run the same way over those rows.
type execution struct {
	stream  []stage   // the leading filter and fields commands
	keep    collector // what the first other command keeps
	rest    []stage   // the commands after it
	matched int
	scratch []projection // one per fields command, reused record to record
}

// collector keeps what a query needs of the rows streamed to it.
type collector interface {
	add(r fieldSource)
	rows() []resultRow
}

func (q *query) start() *execution { return startStages(q.stages) }

func startStages(stages []stage) *execution {
	n := 0
	for n < len(stages) && streams(stages[n]) {
		n++
	}
	x := &execution{stream: stages[:n], scratch: make([]projection, n)}
	x.keep, x.rest = collectorFor(stages[n:])
	return x
}

// streams reports whether a command works record by record.
func streams(st stage) bool {
	switch st.(type) {
	case filterStage, fieldsStage:
		return true
	}
	return false
}

// collectorFor returns what the first of stages keeps, and the commands it
// leaves to run after it.
func collectorFor(stages []stage) (collector, []stage) {
	if len(stages) == 0 {
		return &firstRows{n: MaxResultRows}, nil
	}
	switch st := stages[0].(type) {
	case statsStage:
		return newCounter(st), stages[1:]
	case sortStage:
		if len(stages) > 1 {
			if l, ok := stages[1].(limitStage); ok {
				return &topRows{keys: st.keys, n: min(l.n, MaxResultRows)}, stages[2:]
			}
		}
		return &topRows{keys: st.keys, n: MaxResultRows}, stages[1:]
	case limitStage:
		return &firstRows{n: min(st.n, MaxResultRows)}, stages[1:]
	}
	panic("collectorFor: a filter or fields command does not collect") // startStages streams them
}

// add feeds one record to the query.
func (x *execution) add(r fieldSource) {
	for i, st := range x.stream {
		switch st := st.(type) {
		case filterStage:
			if !st.cond.eval(r) {
				return
			}
		case fieldsStage:
			x.scratch[i] = projection{src: r, fields: st.fields}
			r = &x.scratch[i]
		}
	}
	x.matched++
	x.keep.add(r)
}

// finish returns the rows and how many records matched the leading
// commands.
func (x *execution) finish() ([]resultRow, int) {
	rows := x.keep.rows()
	for rest := x.rest; len(rest) > 0; {
		next := startStages(rest)
		for _, r := range rows {
			next.add(r)
		}
		rows, rest = next.keep.rows(), next.rest
	}
	return rows, x.matched
}

// projection is a record seen through a fields command: only the listed
// fields, each present (empty when the record lacks it). It is read lazily,
// so a record that a later filter drops or a full collector ignores costs
// no row.
type projection struct {
	src    fieldSource
	fields []string
}

func (p *projection) field(name string) (string, bool) {
	if !slices.Contains(p.fields, name) {
		return "", false
	}
	v, _ := p.src.field(name)
	return v, true
}

func (p *projection) row() resultRow {
	row := make(resultRow, len(p.fields))
	for i, f := range p.fields {
		row[i] = resultField{f, ""}
		row[i].Value, _ = p.src.field(f)
	}
	return row
}

// rowOf is the row a query shows for r: the fields a fields command chose,
// the row itself when r already is one, or else the record's timestamp and
// message.
func rowOf(r fieldSource) resultRow {
	switch r := r.(type) {
	case *projection:
		return r.row()
	case resultRow:
		return r
	}
	ts, _ := r.field("@timestamp")
	msg, _ := r.field("@message")
	return resultRow{{"@timestamp", ts}, {"@message", msg}}
}

// firstRows keeps the first n rows and ignores the rest.
type firstRows struct {
	n    int
	kept []resultRow
}

func (f *firstRows) add(r fieldSource) {
	if len(f.kept) < f.n {
		f.kept = append(f.kept, rowOf(r))
	}
}

func (f *firstRows) rows() []resultRow { return f.kept }

// topRows is sort followed by limit n: it keeps the first n rows in sort
// order, compacting to n whenever it holds 2n. Compaction sorts stably and
// rows arrive in order, so rows that sort equal keep their arrival order
// and the result is exactly the first n of a stable sort of every row.
type topRows struct {
	keys      []sortKey
	n         int
	kept      []sortedRow
	compacted bool        // kept[:n] is sorted: the first n so far
	scratch   []sortValue // the next row's keys, copied only if it is kept
}

// sortedRow is a row with its sort keys worked out once.
type sortedRow struct {
	row  resultRow
	keys []sortValue
}

// sortValue is one sort key's value: compared as numbers when both sides
// are numbers, else as text.
type sortValue struct {
	text  string
	num   float64
	isNum bool
}

func (t *topRows) add(r fieldSource) {
	t.scratch = t.scratch[:0]
	for _, k := range t.keys {
		v, _ := r.field(k.field)
		n, err := strconv.ParseFloat(v, 64)
		t.scratch = append(t.scratch, sortValue{v, n, err == nil})
	}
	candidate := sortedRow{keys: t.scratch}
	// Once compacted, a row that sorts no earlier than the n-th kept one
	// can never be among the first n: it arrived after it.
	if t.compacted && t.compare(candidate, t.kept[t.n-1]) >= 0 {
		return
	}
	candidate.keys, candidate.row = slices.Clone(t.scratch), rowOf(r)
	t.kept = append(t.kept, candidate)
	if len(t.kept) >= 2*t.n {
		t.compact()
	}
}

func (t *topRows) compact() {
	slices.SortStableFunc(t.kept, t.compare)
	if len(t.kept) >= t.n {
		clear(t.kept[t.n:])
		t.kept, t.compacted = t.kept[:t.n], true
	}
}

func (t *topRows) compare(a, b sortedRow) int {
	for i, k := range t.keys {
		x, y := a.keys[i], b.keys[i]
		var order int
		if x.isNum && y.isNum {
			order = compareFloats(x.num, y.num)
		} else {
			order = strings.Compare(x.text, y.text)
		}
		if order != 0 {
			if k.desc {
				return -order
			}
			return order
		}
	}
	return 0
}

func (t *topRows) rows() []resultRow {
	t.compact()
	out := make([]resultRow, len(t.kept))
	for i, r := range t.kept {
		out[i] = r.row
	}
	return out
}

// counter is stats count(*) by fields, in at most MaxResultRows groups.
type counter struct {
	st     statsStage
	counts map[string]int
	keys   map[string][]string
	order  []string
	key    []string // scratch
}

func newCounter(st statsStage) *counter {
	return &counter{st: st, counts: map[string]int{}, keys: map[string][]string{}, key: make([]string, len(st.by))}
}

func (c *counter) add(r fieldSource) {
	for i, f := range c.st.by {
		c.key[i], _ = r.field(f)
	}
	k := strings.Join(c.key, "\x00")
	if _, seen := c.counts[k]; !seen {
		if len(c.order) >= MaxResultRows {
			return
		}
		c.keys[k] = append([]string(nil), c.key...)
		c.order = append(c.order, k)
	}
	c.counts[k]++
}

func (c *counter) rows() []resultRow {
	out := make([]resultRow, 0, len(c.order))
	for _, k := range c.order {
		row := resultRow{}
		for i, f := range c.st.by {
			row = append(row, resultField{f, c.keys[k][i]})
		}
		out = append(out, append(row, resultField{c.st.as, strconv.Itoa(c.counts[k])}))
	}
	return out
}

// resultRow is one row of query results, fields in order.
type resultRow []resultField

type resultField struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

func (row resultRow) get(field string) (string, bool) {
	for _, f := range row {
		if f.Field == field {
			return f.Value, true
		}
	}
	return "", false
}

func (row resultRow) field(name string) (string, bool) { return row.get(name) }

package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"spillway/engine/record"
)

// table is a summary table as the page shows it. With two runs the columns
// repeat once per run under the run's label, and the rows are the union of
// both runs' keys, so that A and B read side by side.
type table struct {
	Title  string
	Note   string
	Key    string   // heading of the key column
	Groups []string // one label per run, when there are two
	Head   []string // the columns of one run
	Rows   []tableRow
	Words  bool // cells are words, not numbers: aligned left
}

type tableRow struct {
	Key   string
	Cells []string // len(Head) per run
}

// Span is how many columns each group heading covers.
func (t table) Span() int { return len(t.Head) }

// missing fills the cells of a run that has no such row.
const missing = "—"

// sideBySide builds a table of the runs, each contributing its rows by
// key; a key one run lacks shows dashes there. Rows keep the order of
// first sight, so rowsOf decides it.
func sideBySide(title, key string, head []string, runs []*runInfo, rowsOf func(*record.Loaded) []tableRow) table {
	t := table{Title: title, Key: key, Head: head}
	if len(runs) > 1 {
		for _, r := range runs {
			t.Groups = append(t.Groups, r.Heading())
		}
	}
	index := map[string]int{}
	for ri, r := range runs {
		for _, row := range rowsOf(r.Record) {
			at, seen := index[row.Key]
			if !seen {
				at = len(t.Rows)
				index[row.Key] = at
				cells := make([]string, len(head)*len(runs))
				for i := range cells {
					cells[i] = missing
				}
				t.Rows = append(t.Rows, tableRow{Key: row.Key, Cells: cells})
			}
			copy(t.Rows[at].Cells[ri*len(head):], row.Cells)
		}
	}
	return t
}

// summaryTables are the tables of the runs' summaries: totals, per tenant,
// per deployment, per account, Regions and, when a run streamed, streaming.
func summaryTables(runs []*runInfo) []table {
	tables := []table{
		sideBySide("Totals", "", []string{"value"}, runs, totalRows),
		sideBySide("Per tenant", "tenant",
			[]string{"requests", "succeeded", "rate-limited", "failed", "cancelled", "success", "p50 ms", "p95 ms", "max ms"}, runs, tenantRows),
		sideBySide("Per deployment", "deployment", []string{"served", "input tokens", "output tokens", "TPM"}, runs, deploymentRows),
		sideBySide("Per account", "account", []string{"requests", "succeeded", "failed", "avg ms", "p50 ms", "p95 ms", "max ms"}, runs, accountRows),
		sideBySide("Regions", "account · Region", []string{"invocations", "share"}, runs, regionRows),
	}
	tables[2].Note = "Served counts the requests each deployment answered; tokens are theirs, TPM over the run."
	tables[4].Note = "As the invocation logs counted them at the end of the run."
	if slices.ContainsFunc(runs, func(r *runInfo) bool { return r.Record.Summary.Streaming != nil }) {
		tables = append(tables, sideBySide("Streaming", "", []string{"value"}, runs, streamingRows))
	}
	if slices.ContainsFunc(runs, func(r *runInfo) bool { return r.Record.Summary.Fleet != nil }) {
		// Runs as replicas: what the fleet let through each limit, right
		// after the totals, as the summary and the comparison put it.
		limits := sideBySide("Limits, runs as replicas", "limit", []string{"replicas", "a minute", "busiest minute", "× limit"}, runs, fleetRows)
		limits.Note = "The most each limit let through in one minute of the run: a tenant's admissions, a deployment's picks, or the tokens of the answers that came."
		tables = slices.Insert(tables, 1, limits)
	}
	return tables
}

// fleetRows are a run as replicas' limits with their busiest minutes;
// none for a run that was one gateway.
func fleetRows(l *record.Loaded) []tableRow {
	f := l.Summary.Fleet
	if f == nil {
		return nil
	}
	how := fmt.Sprintf("%d, each its own", f.Replicas)
	if f.Limits != "own" {
		how = fmt.Sprintf("%d, shared", f.Replicas)
	}
	var rows []tableRow
	for _, b := range f.Buckets {
		rows = append(rows, tableRow{b.Bucket, []string{how, count(b.Limit) + " " + b.Unit, count(b.BusiestMinute),
			strconv.FormatFloat(b.TimesLimit, 'f', 1, 64) + "×"}})
	}
	return rows
}

func totalRows(l *record.Loaded) []tableRow {
	s := l.Summary
	rate := missing
	if s.Requests > 0 {
		rate = percent(float64(s.Succeeded) / float64(s.Requests))
	}
	return []tableRow{
		{"planned", []string{count(s.Planned)}},
		{"sent", []string{count(s.Requests)}},
		{"succeeded", []string{count(s.Succeeded)}},
		{"rate-limited", []string{count(s.RateLimited)}},
		{"failed", []string{count(s.Failed)}},
		{"cancelled", []string{count(s.Cancelled)}},
		{"succeeded on a fallback", []string{count(s.FellBack)}},
		{"success rate", []string{rate}},
		{"input tokens", []string{count(s.Tokens.Input)}},
		{"output tokens", []string{count(s.Tokens.Output)}},
		{"tokens reserved", []string{count(s.Tokens.Reserved)}},
		{"tokens per minute", []string{decimal(s.Tokens.TPM)}},
	}
}

func tenantRows(l *record.Loaded) []tableRow {
	var rows []tableRow
	for _, name := range sortedKeys(l.Summary.ByTenant) {
		t := l.Summary.ByTenant[name]
		if t == nil {
			continue
		}
		rows = append(rows, tableRow{name, []string{count(t.Requests), count(t.Succeeded), count(t.RateLimited), count(t.Failed), count(t.Cancelled),
			percent(t.SuccessRate / 100), millis(t.Latency.P50), millis(t.Latency.P95), millis(t.Latency.Max)}})
	}
	return rows
}

func deploymentRows(l *record.Loaded) []tableRow {
	names := sortedKeys(l.Summary.ByDeployment)
	for _, n := range sortedKeys(l.Summary.Tokens.ByDeployment) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	var rows []tableRow
	for _, name := range names {
		cells := []string{count(l.Summary.ByDeployment[name]), missing, missing, missing}
		if t := l.Summary.Tokens.ByDeployment[name]; t != nil {
			cells[1], cells[2], cells[3] = count(t.Input), count(t.Output), decimal(t.TPM)
		}
		rows = append(rows, tableRow{name, cells})
	}
	return rows
}

func accountRows(l *record.Loaded) []tableRow {
	var rows []tableRow
	for _, name := range sortedKeys(l.Summary.ByAccount) {
		a := l.Summary.ByAccount[name]
		if a == nil {
			continue
		}
		rows = append(rows, tableRow{name, []string{count(a.Requests), count(a.Succeeded), count(a.Failed),
			millis(a.Latency.Avg), millis(a.Latency.P50), millis(a.Latency.P95), millis(a.Latency.Max)}})
	}
	return rows
}

func regionRows(l *record.Loaded) []tableRow {
	var rows []tableRow
	for _, acct := range sortedKeys(l.Summary.Regions) {
		byRegion := l.Summary.Regions[acct]
		total := 0
		for _, n := range byRegion {
			total += n
		}
		for _, region := range sortedKeys(byRegion) {
			share := missing
			if total > 0 {
				share = percent(float64(byRegion[region]) / float64(total))
			}
			rows = append(rows, tableRow{acct + " · " + region, []string{count(byRegion[region]), share}})
		}
		if st, ok := l.Summary.Logs[acct]; ok && (st.Unaccounted > 0 || st.TimedOut || st.Error != "") {
			note := fmt.Sprintf("%s not in the logs", count(st.Unaccounted))
			if st.TimedOut {
				note += ", the wait for logs ran out"
			}
			if st.Error != "" {
				note += ": " + st.Error
			}
			rows = append(rows, tableRow{acct + " · unaccounted", []string{count(st.Unaccounted), note}})
		}
	}
	return rows
}

func streamingRows(l *record.Loaded) []tableRow {
	s := l.Summary.Streaming
	if s == nil {
		return nil
	}
	rows := []tableRow{
		{"streamed and succeeded", []string{count(s.Requests)}},
		{"time to first token p50 / p95 / p99", []string{millis(s.TTFT.P50) + " / " + millis(s.TTFT.P95) + " / " + millis(s.TTFT.P99) + " ms"}},
		{"tokens per second p50 / p95 / p99", []string{decimal(s.TokensPerSecond.P50) + " / " + decimal(s.TokensPerSecond.P95) + " / " + decimal(s.TokensPerSecond.P99)}},
	}
	for _, how := range sortedKeys(s.Broken) {
		rows = append(rows, tableRow{"broken: " + how, []string{count(s.Broken[how])}})
	}
	return rows
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// count writes a whole number with thousands separators, as a reader
// scanning a column of them wants.
func count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func millis(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return missing
	}
	return count(int(math.Round(v)))
}

func decimal(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return missing
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

func percent(frac float64) string {
	if math.IsNaN(frac) || math.IsInf(frac, 0) {
		return missing
	}
	return strconv.FormatFloat(frac*100, 'f', 1, 64) + "%"
}

package plain

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"spillway/engine/record"
	"spillway/scenarios"
)

const rule = "================================================================================"

// WriteSummary prints the pattern's result tables the way the seed's demos
// print them. Which tables appear follows the scenario's shape: model usage
// when there are several deployments, consumers when there are several
// tenants, accounts when there are several accounts, and always the Region
// histogram from the invocation logs.
func WriteSummary(w io.Writer, s *scenarios.Scenario, sum record.Summary, interrupted bool) {
	title := strings.ToUpper(strings.ReplaceAll(s.Name, "-", " ")) + " RESULTS"
	if s.ServesClients() {
		interrupted = false // a gateway ends when it is stopped; nothing was cut short
	}
	if interrupted {
		title += " (INTERRUPTED)"
	}
	fmt.Fprintf(w, "\n%s\n%s\n%s\n", rule, title, rule)
	fmt.Fprintf(w, "Total Requests: %d", sum.Requests)
	if interrupted && sum.Requests != sum.Planned { // Poisson arrivals only expect a count
		fmt.Fprintf(w, " of %d planned", sum.Planned)
	}
	fmt.Fprintf(w, "\nSuccessful:     %d\nFailed:         %d\nRate limited:   %d\n", sum.Succeeded, sum.Failed, sum.RateLimited)
	if sum.Cancelled > 0 {
		fmt.Fprintf(w, "Cancelled:      %d\n", sum.Cancelled)
	}
	if sum.FellBack > 0 {
		fmt.Fprintf(w, "Fell back:      %d\n", sum.FellBack)
	}
	if st := sum.Streaming; st != nil {
		fmt.Fprintf(w, "Streamed:       TTFT p50 %.2fs · p95 %.2fs · p99 %.2fs · %.1f tokens/s (p50)\n",
			st.TTFT.P50/1000, st.TTFT.P95/1000, st.TTFT.P99/1000, st.TokensPerSecond.P50)
		for _, how := range slices.Sorted(maps.Keys(st.Broken)) {
			fmt.Fprintf(w, "Broke mid-stream (%s): %d\n", how, st.Broken[how])
		}
	}

	if sum.Fleet != nil {
		fleet(w, sum.Fleet)
	}
	if len(s.Deployments) > 1 {
		modelUsage(w, s, sum)
	}
	if len(s.Tenants) > 1 {
		consumers(w, s, sum)
	}
	if len(s.Accounts) > 1 {
		accounts(w, s, sum)
	}
	regions(w, s, sum)
}

// fleet is what a run as replicas let through each limit in its busiest
// minute, against the limit: the N× leak of limits each replica counts on
// its own, or the limit held by shared ones, and why a shared limit was
// passed when it was.
func fleet(w io.Writer, f *record.Fleet) {
	how := "each counting every limit on its own"
	if f.Limits == scenarios.ReplicaLimitsShared {
		how = "sharing every limit in " + f.Where
	}
	fmt.Fprintf(w, "\n%d replicas, %s:\n", f.Replicas, how)
	if len(f.Buckets) == 0 {
		fmt.Fprintln(w, "No tenant or deployment has a limit.")
		return
	}
	t := table{header: []string{"Limit", "Per Minute", "Busiest Minute", "× Limit"}}
	most := 0.0
	var tokenBucket, tokens bool
	for _, b := range f.Buckets {
		t.add(b.Bucket, fmt.Sprintf("%d %s", b.Limit, b.Unit), fmt.Sprint(b.BusiestMinute), fmt.Sprintf("%.1f×", b.TimesLimit))
		most = max(most, b.TimesLimit)
		if b.TimesLimit > 1 {
			tokenBucket = tokenBucket || b.Limiter == string(scenarios.TokenBucket)
			tokens = tokens || b.Unit == "tokens"
		}
	}
	t.write(w)
	var says string
	switch {
	case most <= 1:
		says = "The fleet held every limit."
	case f.Limits == scenarios.ReplicaLimitsOwn:
		says = fmt.Sprintf("The fleet let up to %.1f× a limit through in one minute: each of the %d replicas held it on its own. "+
			"Shared limits hold it once: press L on the dashboard, or run with --replica-limits shared.", most, f.Replicas)
	default:
		var why []string
		if f.StoreDown {
			why = append(why, "the shared limits' store was unreachable for a while, and each replica counted its own limits meanwhile")
		}
		if tokenBucket {
			why = append(why, "a token bucket lets its full bucket and a minute's refill through in one minute")
		}
		if tokens {
			why = append(why, "tokens count here in the minute their answer came, which may be after the minute their request was let in")
		}
		says = fmt.Sprintf("The fleet let up to %.1f× a limit through in one minute: %s.", most, strings.Join(why, "; "))
	}
	for _, line := range Wrap(says, wrapAt) {
		fmt.Fprintln(w, line)
	}
}

// wrapAt is the width the summary's sentences wrap at, so that they read
// whole in an 80-column terminal and on the dashboard's results card.
const wrapAt = 76

// Wrap breaks text into lines of at most width characters at spaces
// only: a flag such as --replica-limits stays whole, where a wrapper that
// breaks at hyphens would split it. The dashboard's picker wraps its
// descriptions with it too.
func Wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len([]rune(line))+1+len([]rune(word)) > width:
			lines, line = append(lines, line), word
		default:
			line += " " + word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

func modelUsage(w io.Writer, s *scenarios.Scenario, sum record.Summary) {
	fmt.Fprintf(w, "\nModel Usage Distribution:\n")
	t := table{header: []string{"Deployment", "Model", "Requests", "Share"}}
	for _, d := range s.Deployments {
		n := sum.ByDeployment[d.Name]
		t.add(d.Name, d.Model, fmt.Sprint(n), percent(n, sum.Succeeded))
	}
	t.write(w)
}

func consumers(w io.Writer, s *scenarios.Scenario, sum record.Summary) {
	fmt.Fprintf(w, "\nConsumer Quota Isolation:\n")
	t := table{header: []string{"Consumer", "RPM", "Success Rate", "Total", "Success", "Failed", "Rate Limited", "Avg Time", "p50", "p95"}}
	for _, tn := range s.Tenants {
		c := sum.ByTenant[tn.Name]
		if c == nil {
			c = &record.TenantSummary{}
		}
		rate := "-" // a tenant that sent nothing, such as a gateway's unused key, has no rate
		if c.Requests > 0 {
			rate = fmt.Sprintf("%.1f%%", c.SuccessRate)
		}
		t.add(tn.Name, tn.RPM.String(), rate, fmt.Sprint(c.Requests),
			fmt.Sprint(c.Succeeded), fmt.Sprint(c.Failed), fmt.Sprint(c.RateLimited),
			seconds(c.Latency.Avg), seconds(c.Latency.P50), seconds(c.Latency.P95))
	}
	t.write(w)
}

func accounts(w io.Writer, s *scenarios.Scenario, sum record.Summary) {
	fmt.Fprintf(w, "\nAccount Sharding:\n")
	t := table{header: []string{"Account", "Id", "Total", "Success", "Failed", "Success Rate", "Avg Time"}}
	var total record.AccountSummary
	for _, a := range s.Accounts {
		c := sum.ByAccount[a.Name]
		if c == nil {
			c = &record.AccountSummary{}
		}
		total.Requests += c.Requests
		total.Succeeded += c.Succeeded
		total.Failed += c.Failed
		t.add(strings.ToUpper(a.Name), scenarios.MaskAccountID(a.AccountID), fmt.Sprint(c.Requests), fmt.Sprint(c.Succeeded),
			fmt.Sprint(c.Failed), percent(c.Succeeded, c.Requests), seconds(c.Latency.Avg))
	}
	t.add("TOTAL", "", fmt.Sprint(total.Requests), fmt.Sprint(total.Succeeded), fmt.Sprint(total.Failed),
		percent(total.Succeeded, total.Requests), "")
	t.write(w)
}

func regions(w io.Writer, s *scenarios.Scenario, sum record.Summary) {
	fmt.Fprintf(w, "\nRegional Distribution (from the invocation logs, %s):\n", s.Logs.Group)
	if len(sum.Regions) == 0 && len(sum.Logs) == 0 {
		fmt.Fprintf(w, "  no log query ran\n")
		return
	}
	for _, a := range s.Accounts {
		counts, ok := sum.Regions[a.Name]
		if !ok {
			continue
		}
		if len(s.Accounts) > 1 {
			fmt.Fprintf(w, "\n%s:\n", strings.ToUpper(a.Name))
		}
		total := 0
		for _, n := range counts {
			total += n
		}
		names := make([]string, 0, len(counts))
		for r := range counts {
			names = append(names, r)
		}
		sort.Strings(names)
		t := table{header: []string{"Region", "Invocations", "Percentage"}}
		for _, r := range names {
			t.add(r, fmt.Sprint(counts[r]), percent(counts[r], total))
		}
		t.write(w)
		st := sum.Logs[a.Name]
		switch {
		case st.Error != "":
			fmt.Fprintf(w, "  %s\n", st.Error)
		case st.Unaccounted > 0:
			fmt.Fprintf(w, "  %d successful request(s) not in the logs yet\n", st.Unaccounted)
		}
	}
}

func percent(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

func seconds(ms float64) string {
	if ms == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fs", ms/1000)
}

// table lays out columns separated by " | ", with a dashed line under the
// header, as the seed's tables are.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	width := make([]int, len(t.header))
	for _, row := range append([][]string{t.header}, t.rows...) {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(row []string) {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = c + strings.Repeat(" ", width[i]-len([]rune(c)))
		}
		fmt.Fprintln(w, strings.TrimRight(strings.Join(cells, " | "), " "))
	}
	line(t.header)
	dashes := make([]string, len(width))
	for i, n := range width {
		dashes[i] = strings.Repeat("-", n)
	}
	fmt.Fprintln(w, strings.Join(dashes, "-|-"))
	for _, row := range t.rows {
		line(row)
	}
}

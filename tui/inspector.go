package tui

import (
	"fmt"
	"strings"
	"time"
)

// inspectorView shows one request in full, as k9s's describe does: when it
// arrived, how it ended and why, and every deployment it tried or passed
// over, with group, outcome, Region, times, error and message.
func inspectorView(l *Lane, now time.Duration, st Styles, width, height int) string {
	outcome := "in flight"
	if l.Done {
		outcome = kindNames[l.Outcome] + " after " + seconds(l.Latency)
		if l.Outcome == Primary || l.Outcome == Fallback {
			outcome = "succeeded on " + l.Deployment + " after " + seconds(l.Latency)
			if l.Outcome == Fallback {
				outcome = "fell back: " + outcome
			}
		}
	}
	title := fmt.Sprintf("Request #%d · tenant %s · arrived at %s", l.ID, l.Tenant, seconds(l.Arrived))
	if l.Replica > 0 {
		title = fmt.Sprintf("Request #%d · tenant %s · replica %d · arrived at %s", l.ID, l.Tenant, l.Replica, seconds(l.Arrived))
	}
	lines := []string{
		st.Bold.Render(fit(title, width)),
		fit("Outcome: "+outcome, width),
	}
	if l.Why != "" {
		lines = append(lines, fit("Why: "+l.Why, width))
	}
	if l.TTFT > 0 {
		ttft := "Streamed: first token after " + seconds(l.TTFT)
		if l.Streamed > 0 {
			ttft += fmt.Sprintf(" · broke after %d tokens the client saw", l.Streamed)
		}
		lines = append(lines, fit(ttft, width))
	}
	if l.InputTokens > 0 {
		tokens := fmt.Sprintf("Tokens: %d in · max_tokens %d, so a reservation of %d", l.InputTokens, l.MaxTokens, l.InputTokens+l.MaxTokens)
		if l.OutputTokens > 0 {
			tokens += fmt.Sprintf(" · %d out", l.OutputTokens)
		}
		lines = append(lines, fit(tokens, width))
	}
	lines = append(lines, "")
	rows := [][]string{{"at", "group", "deployment", "outcome", "region", "took", "error and message"}}
	for _, s := range l.Steps {
		took := ""
		switch {
		case s.Outcome == "in flight":
			took = seconds(now-s.At) + " so far"
		case s.End > s.At:
			took = seconds(s.End - s.At)
		}
		detail := strings.TrimSpace(s.Code + " " + s.Message)
		rows = append(rows, []string{seconds(s.At), s.Group, s.Deployment, s.Outcome, s.Region, took, detail})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for c, cell := range r[:len(r)-1] {
			widths[c] = max(widths[c], len([]rune(cell)))
		}
	}
	for i, r := range rows {
		var b strings.Builder
		for c, cell := range r[:len(r)-1] {
			fmt.Fprintf(&b, "%-*s  ", widths[c], cell)
		}
		b.WriteString(r[len(r)-1])
		line := fit(b.String(), width)
		if i == 0 {
			line = st.Dim.Render(line)
		}
		lines = append(lines, line)
	}
	if len(l.Steps) == 0 {
		lines = append(lines, "(refused before any deployment was tried)")
	}
	return block(lines, width, height)
}

package litellm

import (
	"bytes"
	"fmt"
	"strings"
)

// write is the scenario as a TOML file.
func (c *converter) write() []byte {
	var b bytes.Buffer
	q := quote
	fmt.Fprintf(&b, "# Imported from the LiteLLM config %s by 'spillway import litellm'.\n", c.file)
	if len(c.notes) > 0 {
		fmt.Fprintf(&b, "# %d key(s) were not carried over:\n", len(c.notes))
		for _, n := range c.notes {
			fmt.Fprintf(&b, "#   %s\n", strings.ReplaceAll(n.String(), "\n", " "))
		}
	}
	fmt.Fprintf(&b, "default = %s\n\n[[scenario]]\nname = %s\n", q(c.name), q(c.name))
	fmt.Fprintf(&b, "title = %s\n", q("LiteLLM config "+c.file+", served to your own clients"))
	fmt.Fprintf(&b, "description = %s\n", q("Imported from "+c.file+": each model_name is a group, each model_list entry a deployment with its rpm and tpm, and router_settings the gateway's retries, cooldown, timeout and fallbacks. Serve it with 'spillway gateway'."))
	// LiteLLM counts requests in fixed clock-minute windows.
	b.WriteString("limiter = \"fixed-window\"\n")
	if len(c.gateway) > 0 {
		b.WriteString("\n  [scenario.gateway]\n")
		for _, s := range c.gateway {
			fmt.Fprintf(&b, "  %s = %s\n", s.key, s.value)
		}
	}
	if c.redis != "" {
		b.WriteString("\n  [scenario.shared]              # the replicas' limits, shared as LiteLLM shares its counters\n")
		fmt.Fprintf(&b, "  redis = %s\n", q(c.redis))
	}
	for _, a := range c.accounts {
		fmt.Fprintf(&b, "\n  [[scenario.account]]\n  name = %s\n  profile = %s\n  region = %s\n", q(a.name), q(a.profile), q(a.region))
	}
	for _, d := range c.deployments {
		fmt.Fprintf(&b, "\n  [[scenario.deployment]]\n  name = %s\n  model = %s\n  account = %s\n  rpm = %s\n", q(d.name), q(d.model), q(d.account), d.rpm)
		if d.tpm != "" {
			fmt.Fprintf(&b, "  tpm = %s\n", d.tpm)
		}
		if d.weight != "" {
			fmt.Fprintf(&b, "  weight = %s\n", d.weight)
		}
	}
	for _, g := range c.groups {
		fmt.Fprintf(&b, "\n  [[scenario.group]]\n  name = %s\n", q(g.name))
		if c.strategy != "" {
			fmt.Fprintf(&b, "  strategy = %s\n", q(c.strategy))
		}
		fmt.Fprintf(&b, "  deployments = %s\n", list(g.deployments))
		if len(g.fallbacks) > 0 {
			fmt.Fprintf(&b, "  fallbacks = %s\n", list(g.fallbacks))
		}
	}
	b.WriteString("\n  [[scenario.tenant]]\n  name = \"clients\"\n  rpm = \"unlimited\"\n  arrival = \"gateway\"\n")
	if len(c.apiKeys) > 0 {
		fmt.Fprintf(&b, "  api_keys = %s\n", list(c.apiKeys))
	}
	return b.Bytes()
}

func list(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = quote(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// quote is s as a TOML basic string. Go's quoting writes \x escapes, which
// TOML does not have; control characters become \uXXXX, and bytes that are
// not UTF-8 the replacement character.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

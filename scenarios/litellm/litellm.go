// Package litellm turns a LiteLLM proxy's config.yaml into the equivalent
// Spillway scenario: its model_list becomes accounts, deployments and
// groups, its router_settings the gateway's retries, cooldown, timeout and
// fallbacks. Every key it does not carry over is reported with its line;
// nothing is dropped silently.
//
// The scenario is written as TOML, the file a person can read, keep and
// edit; spillway gateway --litellm-config parses that same text, so an
// import and a direct run are one path.
package litellm

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// MaxConfigBytes bounds a config file; LiteLLM's are a few kilobytes.
const MaxConfigBytes = 4 << 20

// Import is a converted config.
type Import struct {
	Name     string // the scenario's name
	TOML     []byte // a scenario file holding it
	Unmapped []Note // what was not carried over, in the file's order
}

// Note is one key not carried over, and why.
type Note struct {
	File      string
	Line, Col int
	Key       string // its path, as router_settings.redis_host or model_list[2].litellm_params.api_base
	Why       string
}

func (n Note) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", n.File, n.Line, n.Col, n.Key, n.Why)
}

// Convert reads config, named file, as scenario name (the file's base name
// when empty).
func Convert(file string, config []byte, name string) (*Import, error) {
	if len(config) > MaxConfigBytes {
		return nil, fmt.Errorf("%s: %d bytes, over the limit of %d for a LiteLLM config", file, len(config), MaxConfigBytes)
	}
	tree, err := parser.ParseBytes(config, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", file, strings.TrimSpace(yaml.FormatError(err, false, false)))
	}
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	c := &converter{file: file, tree: tree, name: name}
	// Decoding resolves anchors, aliases and merge keys (<<: *defaults).
	if err := yaml.Unmarshal(config, &c.doc); err != nil {
		return nil, fmt.Errorf("%s: %s", file, strings.TrimSpace(yaml.FormatError(err, false, false)))
	}
	c.convert()
	if len(c.errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(c.errs, "\n"))
	}
	sort.SliceStable(c.notes, func(i, j int) bool { return c.notes[i].Line < c.notes[j].Line })
	return &Import{Name: name, TOML: c.write(), Unmapped: c.notes}, nil
}

// converter is one conversion's state.
type converter struct {
	file  string
	tree  *ast.File
	doc   map[string]any
	name  string
	notes []Note
	errs  []string

	accounts    []account
	deployments []deployment
	groups      []group
	gateway     []setting // scenario.gateway keys, in order
	redis       string    // scenario.shared's redis URL, from redis_url or redis_host and redis_port
	strategy    string
	apiKeys     []string
}

type account struct{ name, profile, region string }

type deployment struct {
	name, model, account string
	rpm, tpm, weight     string // TOML values, "" when absent
}

type group struct {
	name        string
	deployments []string
	fallbacks   []string
}

type setting struct{ key, value string }

func (c *converter) convert() {
	for _, key := range sortedKeys(c.doc) {
		switch key {
		case "model_list":
			c.modelList(c.doc[key])
		case "router_settings":
			c.routerSettings(c.doc[key])
		case "general_settings":
			c.generalSettings(c.doc[key])
		default:
			c.note("$."+key, key, "not mapped: Spillway's gateway has no equivalent of LiteLLM's "+key)
		}
	}
	if len(c.deployments) == 0 && len(c.errs) == 0 {
		c.errs = append(c.errs, fmt.Sprintf("%s: model_list has no Bedrock deployment (litellm_params.model: bedrock/<model id>); there is nothing to route to", c.file))
	}
	for _, g := range c.groups {
		for _, f := range g.fallbacks {
			if !slices.ContainsFunc(c.groups, func(o group) bool { return o.name == f }) {
				c.errs = append(c.errs, fmt.Sprintf("%s: router_settings.fallbacks: %s falls back to %q, which is no model_name in model_list", c.file, g.name, f))
			}
		}
	}
}

func (c *converter) modelList(v any) {
	entries, ok := v.([]any)
	if !ok {
		c.fail("$.model_list", "model_list", "must be a list of deployments")
		return
	}
	perName := map[string]int{}
	for i, e := range entries {
		at := fmt.Sprintf("$.model_list[%d]", i)
		key := fmt.Sprintf("model_list[%d]", i)
		entry, ok := e.(map[string]any)
		if !ok {
			c.fail(at, key, "must be a mapping with model_name and litellm_params")
			continue
		}
		groupName, _ := entry["model_name"].(string)
		params, _ := entry["litellm_params"].(map[string]any)
		info, _ := entry["model_info"].(map[string]any)
		if groupName == "" || params == nil {
			c.fail(at, key, "needs model_name and litellm_params")
			continue
		}
		model, _ := params["model"].(string)
		id, bedrock := bedrockModel(model)
		if !bedrock {
			c.note(at+".litellm_params.model", key+".litellm_params.model", fmt.Sprintf("not mapped: %q is not a Bedrock model (bedrock/<model id>), so this deployment is left out", model))
			continue
		}
		perName[groupName]++
		d := deployment{name: fmt.Sprintf("%s-%d", groupName, perName[groupName]), model: id}
		profile, region := "default", "us-east-1"
		for _, k := range sortedKeys(entry) {
			switch k {
			case "model_name", "litellm_params":
			case "model_info":
				for _, ik := range sortedKeys(info) {
					if ik == "id" {
						d.name = fmt.Sprint(info[ik])
						continue
					}
					c.note(at+".model_info."+ik, key+".model_info."+ik, "not mapped: Spillway keeps no model_info but the deployment's id")
				}
			case "rpm", "tpm":
				c.limit(&d, k, entry[k], at+"."+k, key+"."+k)
			default:
				c.note(at+"."+k, key+"."+k, "not mapped")
			}
		}
		for _, k := range sortedKeys(params) {
			pat, pkey := at+".litellm_params."+k, key+".litellm_params."+k
			switch k {
			case "model":
			case "aws_region_name":
				region = fmt.Sprint(params[k])
			case "aws_profile_name":
				profile = fmt.Sprint(params[k])
			case "rpm", "tpm":
				c.limit(&d, k, params[k], pat, pkey)
			case "weight":
				if n, ok := whole(params[k]); ok && n >= 1 {
					d.weight = strconv.Itoa(n)
				} else {
					c.fail(pat, pkey, "weight must be a whole number ≥ 1")
				}
			case "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_role_name", "aws_session_name", "aws_web_identity_token":
				c.note(pat, pkey, "not carried over: Spillway takes each account's credentials from its AWS profile (aws_profile_name), never from the scenario")
			default:
				c.note(pat, pkey, "not mapped: Spillway sends Converse with the request's own messages and max_tokens")
			}
		}
		d.account = c.accountFor(profile, region)
		if d.rpm == "" {
			c.note(at+".litellm_params", key+".litellm_params", "no rpm: LiteLLM then sets no limit, so the deployment gets rpm = \"unlimited\"")
			d.rpm = `"unlimited"`
		}
		c.deployments = append(c.deployments, d)
		gi := slices.IndexFunc(c.groups, func(g group) bool { return g.name == groupName })
		if gi < 0 {
			c.groups = append(c.groups, group{name: groupName})
			gi = len(c.groups) - 1
		}
		c.groups[gi].deployments = append(c.groups[gi].deployments, d.name)
	}
}

// bedrockModel is the Bedrock model id in a LiteLLM model string:
// bedrock/<id>, with LiteLLM's optional route (converse/, invoke/).
func bedrockModel(model string) (string, bool) {
	id, ok := strings.CutPrefix(model, "bedrock/")
	if !ok || id == "" {
		return "", false
	}
	for _, route := range []string{"converse/", "invoke/"} {
		id = strings.TrimPrefix(id, route)
	}
	return id, id != ""
}

func (c *converter) limit(d *deployment, which string, v any, at, key string) {
	n, ok := whole(v)
	if !ok || n < 1 {
		c.fail(at, key, which+" must be a whole number ≥ 1")
		return
	}
	if which == "rpm" {
		d.rpm = strconv.Itoa(n)
	} else {
		d.tpm = strconv.Itoa(n)
	}
}

// accountFor names the account of profile in region: the profile's name,
// with the Region when the profile is used in more than one.
func (c *converter) accountFor(profile, region string) string {
	for _, a := range c.accounts {
		if a.profile == profile && a.region == region {
			return a.name
		}
	}
	name := profile
	for i, a := range c.accounts {
		if a.profile == profile {
			if a.name == profile {
				c.accounts[i].name = profile + "-" + a.region
				for j := range c.deployments {
					if c.deployments[j].account == profile {
						c.deployments[j].account = c.accounts[i].name
					}
				}
			}
			name = profile + "-" + region
		}
	}
	c.accounts = append(c.accounts, account{name: name, profile: profile, region: region})
	return name
}

func (c *converter) routerSettings(v any) {
	settings, ok := v.(map[string]any)
	if !ok {
		c.fail("$.router_settings", "router_settings", "must be a mapping")
		return
	}
	seconds := func(k string) (string, bool) {
		switch x := settings[k].(type) {
		case uint64, int64, int, float64:
			f, _ := strconv.ParseFloat(fmt.Sprint(x), 64)
			if f > 0 {
				return strconv.Quote(strconv.FormatFloat(f, 'f', -1, 64) + "s"), true
			}
		}
		c.fail("$.router_settings."+k, "router_settings."+k, "must be a number of seconds above 0")
		return "", false
	}
	for _, k := range sortedKeys(settings) {
		at, key := "$.router_settings."+k, "router_settings."+k
		switch k {
		case "routing_strategy":
			switch s := fmt.Sprint(settings[k]); s {
			case "simple-shuffle":
				c.strategy = "shuffle"
			default:
				c.strategy = "shuffle"
				c.note(at, key, fmt.Sprintf("not mapped: Spillway routes by simple-shuffle's weighted shuffle or by round-robin; %q is neither, so the groups shuffle", s))
			}
		case "enable_pre_call_checks":
			if b, _ := settings[k].(bool); !b {
				c.note(at, key, "not mapped: Spillway always checks a deployment's RPM and TPM before calling it, as LiteLLM's pre-call checks do")
			}
		case "allowed_fails":
			if n, ok := whole(settings[k]); ok && n >= 1 {
				c.gateway = append(c.gateway, setting{"allowed_fails", strconv.Itoa(n)})
				if _, has := settings["cooldown_time"]; !has {
					c.gateway = append(c.gateway, setting{"cooldown", `"5s"`}) // LiteLLM's default cooldown
				}
			} else {
				c.fail(at, key, "must be a whole number ≥ 1")
			}
		case "cooldown_time":
			if s, ok := seconds(k); ok {
				if _, has := settings["allowed_fails"]; has {
					c.gateway = append(c.gateway, setting{"cooldown", s})
				} else {
					c.note(at, key, "not mapped: Spillway cools a deployment down after allowed_fails failures in a minute; without allowed_fails it has no cooldown")
				}
			}
		case "num_retries":
			if n, ok := whole(settings[k]); ok && n >= 0 {
				c.gateway = append(c.gateway, setting{"retries", strconv.Itoa(n)})
			} else {
				c.fail(at, key, "must be a whole number ≥ 0")
			}
		case "timeout":
			if s, ok := seconds(k); ok {
				c.gateway = append(c.gateway, setting{"timeout", s})
			}
		case "fallbacks":
			c.fallbacks(settings[k], at, key)
		case "redis_url":
			if u := fmt.Sprint(settings[k]); strings.HasPrefix(u, "redis://") || strings.HasPrefix(u, "rediss://") {
				c.redis = u
			} else {
				c.note(at, key, "not mapped: not a redis:// URL (an os.environ/ reference is read by LiteLLM at start); give spillway gateway --redis URL")
			}
		case "redis_host":
			// With redis_port: LiteLLM shares its RPM counters and
			// cooldowns there; Spillway shares every limit there.
			port := "6379"
			if p, ok := whole(settings["redis_port"]); ok {
				port = strconv.Itoa(p)
			}
			host := fmt.Sprint(settings[k])
			if strings.HasPrefix(host, "os.environ/") {
				c.note(at, key, "not mapped: an os.environ/ reference is read by LiteLLM at start; give spillway gateway --redis redis://HOST:PORT")
				continue
			}
			if _, url := settings["redis_url"]; !url {
				c.redis = "redis://" + net.JoinHostPort(host, port) + "/0"
			}
		case "redis_port":
			if _, host := settings["redis_host"]; !host {
				c.note(at, key, "not mapped: a redis_port without a redis_host")
			}
		case "redis_password":
			c.note(at, key, "not mapped: credentials stay out of scenario files; give spillway gateway --redis redis://:PASSWORD@HOST:PORT/0")
		default:
			c.note(at, key, "not mapped: Spillway's gateway has no equivalent setting")
		}
	}
}

// fallbacks reads LiteLLM's list of one-key maps, {group: [groups]}.
func (c *converter) fallbacks(v any, at, key string) {
	list, ok := v.([]any)
	if !ok {
		c.fail(at, key, "must be a list of one-key maps, such as - claude: [claude-fallback]")
		return
	}
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok || len(m) != 1 {
			c.fail(fmt.Sprintf("%s[%d]", at, i), fmt.Sprintf("%s[%d]", key, i), "must be a one-key map, such as claude: [claude-fallback]")
			continue
		}
		for from, to := range m {
			targets, ok := to.([]any)
			if !ok {
				c.fail(fmt.Sprintf("%s[%d]", at, i), fmt.Sprintf("%s[%d]", key, i), "must list the groups "+from+" falls back to")
				continue
			}
			gi := slices.IndexFunc(c.groups, func(g group) bool { return g.name == from })
			if gi < 0 {
				c.errs = append(c.errs, fmt.Sprintf("%s: %s[%d]: %q falls back, but it is no model_name in model_list", c.file, key, i, from))
				continue
			}
			for _, t := range targets {
				c.groups[gi].fallbacks = append(c.groups[gi].fallbacks, fmt.Sprint(t))
			}
		}
	}
}

func (c *converter) generalSettings(v any) {
	settings, ok := v.(map[string]any)
	if !ok {
		c.fail("$.general_settings", "general_settings", "must be a mapping")
		return
	}
	for _, k := range sortedKeys(settings) {
		at, key := "$.general_settings."+k, "general_settings."+k
		if k != "master_key" {
			c.note(at, key, "not mapped: Spillway's gateway has no equivalent setting")
			continue
		}
		switch mk := fmt.Sprint(settings[k]); {
		case strings.HasPrefix(mk, "os.environ/"):
			c.note(at, key, "not mapped: the key is read from the environment in LiteLLM; put it in the tenant's api_keys")
		default:
			c.apiKeys = append(c.apiKeys, mk)
		}
	}
}

// note records a key not carried over.
func (c *converter) note(path, key, why string) {
	line, col := c.position(path)
	c.notes = append(c.notes, Note{File: c.file, Line: line, Col: col, Key: key, Why: why})
}

// fail records a value that stops the import.
func (c *converter) fail(path, key, why string) {
	line, col := c.position(path)
	c.errs = append(c.errs, fmt.Sprintf("%s:%d:%d: %s: %s", c.file, line, col, key, why))
}

// position is where path's key is written. A key that came in by a merge
// (<<: *defaults) is not in the tree where it lands; the nearest enclosing
// key that is gives the line.
func (c *converter) position(path string) (line, col int) {
	for p := path; p != "$" && p != ""; p = parent(p) {
		yp, err := yaml.PathString(p)
		if err != nil {
			continue
		}
		node, err := yp.FilterFile(c.tree)
		if err != nil || node == nil {
			continue
		}
		if tk := node.GetToken(); tk != nil && tk.Position != nil {
			line, col = tk.Position.Line, tk.Position.Column
			if mv, ok := parentKey(c.tree, p); ok {
				line, col = mv.Line, mv.Column
			}
			return line, col
		}
	}
	return 1, 1
}

// parent is path less its last step.
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i > 0 {
		return path[:i]
	}
	return "$"
}

// parentKey is the position of the key that holds path's value, when path
// ends in a key.
func parentKey(tree *ast.File, path string) (pos struct{ Line, Column int }, ok bool) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 || strings.HasSuffix(path, "]") {
		return pos, false
	}
	yp, err := yaml.PathString(path[:i])
	if err != nil {
		return pos, false
	}
	node, err := yp.FilterFile(tree)
	if err != nil {
		return pos, false
	}
	m, isMap := node.(*ast.MappingNode)
	if !isMap {
		if mv, isValue := node.(*ast.MappingValueNode); isValue {
			m = &ast.MappingNode{Values: []*ast.MappingValueNode{mv}}
		} else {
			return pos, false
		}
	}
	for _, mv := range m.Values {
		if mv.Key.String() == path[i+1:] {
			if tk := mv.Key.GetToken(); tk != nil && tk.Position != nil {
				pos.Line, pos.Column = tk.Position.Line, tk.Position.Column
				return pos, true
			}
		}
	}
	return pos, false
}

func whole(v any) (int, bool) {
	switch x := v.(type) {
	case uint64:
		return int(x), x < 1<<31
	case int64:
		return int(x), x > -1<<31 && x < 1<<31
	case int:
		return x, true
	case float64:
		return int(x), x == float64(int(x)) && x > -1<<31 && x < 1<<31
	}
	return 0, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

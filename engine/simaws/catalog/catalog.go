// Package catalog is the Amazon Bedrock models the simulated fleet knows
// without a scenario naming them: each foundation model with the
// cross-Region inference profiles that carry it, whether it can be called
// on demand by its own id, its output limit and its output-token burndown.
// The facts are data (models.toml, with the pages they come from), so a new
// model is a few lines there, not code.
package catalog

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"spillway/scenarios"
)

//go:embed models.toml
var modelsTOML []byte

// Model is one foundation model.
type Model struct {
	ID        string `toml:"id"` // foundation model id, such as anthropic.claude-sonnet-4-6
	Provider  string `toml:"provider"`
	Name      string `toml:"name"`
	Lifecycle string `toml:"lifecycle"`
	// OnDemand says whether the foundation id may be called directly, in
	// its Region; a model without it is reached only through a profile.
	// InRegion, when the documentation lists them, are the Regions that
	// serve such calls.
	OnDemand bool     `toml:"on_demand"`
	InRegion []string `toml:"in_region"`
	// Profiles maps each cross-Region inference profile's prefix (us, eu,
	// apac, jp, au, ca, global) to the Regions it routes to.
	Profiles        map[string][]string `toml:"profiles"`
	MaxOutputTokens int                 `toml:"max_output_tokens"`
	// Burndown is how many quota tokens each output token takes: 5 for
	// Claude 3.7 and the Claude 4 family, 1 otherwise.
	Burndown float64 `toml:"burndown"`
	// TTFTMillis and TokensPerSecond are the model's speed, where a
	// benchmark or an estimate gives one (the sources say which); 0 when
	// none was found.
	TTFTMillis      int     `toml:"ttft_ms"`
	TTFTSource      string  `toml:"ttft_source"`
	TokensPerSecond float64 `toml:"tokens_per_second"`
	TPSSource       string  `toml:"tps_source"`
	ContextWindow   int     `toml:"context_window"`
	MantleModelID   string  `toml:"mantle_model_id"`
	// Quotas are the documented default quotas, as the file records them:
	// a number, or a number per Region with "other" for the rest.
	Quotas map[string]any `toml:"quotas"`
}

// OnDemandIn reports whether the foundation id may be called on demand
// from region.
func (m Model) OnDemandIn(region string) bool {
	if len(m.InRegion) > 0 {
		return slices.Contains(m.InRegion, region)
	}
	return m.OnDemand
}

// DefaultQuota is a documented default quota in region, such as
// "cross_region_tpm": the file gives a number, or a number per Region with
// "other" for the rest. ok is false where the file has none.
func (m Model) DefaultQuota(name, region string) (n int64, ok bool) {
	number := func(v any) (int64, bool) {
		switch x := v.(type) {
		case int64:
			return x, true
		case float64:
			return int64(x), true
		}
		return 0, false
	}
	switch v := m.Quotas[name].(type) {
	case map[string]any:
		if n, ok := number(v[region]); ok {
			return n, true
		}
		return number(v["other"])
	default:
		return number(v)
	}
}

// ProfileIDs are the model's cross-Region inference profile ids, sorted.
func (m Model) ProfileIDs() []string {
	var ids []string
	for geo := range m.Profiles {
		ids = append(ids, geo+"."+m.ID)
	}
	slices.Sort(ids)
	return ids
}

// Catalog is the models by foundation id.
type Catalog struct {
	models map[string]Model
	order  []string
}

var (
	loadOnce sync.Once
	builtIn  *Catalog
	loadErr  error
)

// BuiltIn is the embedded catalog. It panics if the embedded file does not
// parse, which a test catches before any release.
func BuiltIn() *Catalog {
	loadOnce.Do(func() { builtIn, loadErr = Parse(modelsTOML) })
	if loadErr != nil {
		panic(loadErr)
	}
	return builtIn
}

// Parse reads a catalog file.
func Parse(data []byte) (*Catalog, error) {
	var file struct {
		SchemaVersion int               `toml:"schema_version"`
		AsOf          string            `toml:"as_of"`
		ARN           map[string]string `toml:"arn"`
		Errors        map[string]string `toml:"errors"`
		QuotaRules    map[string]string `toml:"quota_rules"`
		Model         []Model           `toml:"model"`
	}
	md, err := toml.Decode(string(data), &file)
	if err != nil {
		return nil, fmt.Errorf("model catalog: %w", err)
	}
	for _, key := range md.Undecoded() {
		// Quotas are kept as the file writes them, per Region or not.
		if len(key) < 2 || key[0] != "model" || key[1] != "quotas" {
			return nil, fmt.Errorf("model catalog: unknown key %s", key)
		}
	}
	c := &Catalog{models: map[string]Model{}}
	for _, m := range file.Model {
		switch {
		case strings.Count(strings.SplitN(m.ID, ":", 2)[0], ".") != 1:
			return nil, fmt.Errorf("model catalog: %q is not a foundation model id (provider.model)", m.ID)
		case m.MaxOutputTokens < 1:
			return nil, fmt.Errorf("model catalog: %s: max_output_tokens must be at least 1", m.ID)
		case m.Burndown < 1:
			return nil, fmt.Errorf("model catalog: %s: burndown must be at least 1", m.ID)
		case !m.OnDemand && len(m.InRegion) == 0 && len(m.Profiles) == 0:
			return nil, fmt.Errorf("model catalog: %s can be called neither on demand nor through a profile", m.ID)
		}
		if _, dup := c.models[m.ID]; dup {
			return nil, fmt.Errorf("model catalog: %s is listed twice", m.ID)
		}
		c.models[m.ID] = m
		c.order = append(c.order, m.ID)
	}
	return c, nil
}

// Models are every model, in the file's order.
func (c *Catalog) Models() []Model {
	out := make([]Model, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.models[id])
	}
	return out
}

// How a call names its model.
const (
	ByFoundationID = "foundation model"
	ByProfile      = "inference profile"
)

// Resolve finds the model a call names: by foundation id, by profile id
// (us.anthropic…), or by a foundation-model or inference-profile ARN. by
// says which; geo is the profile's prefix.
func (c *Catalog) Resolve(modelID string) (m Model, by, geo string, ok bool) {
	if strings.HasPrefix(modelID, "arn:") && !strings.Contains(modelID, ":foundation-model/") &&
		!strings.Contains(modelID, ":inference-profile/") {
		return Model{}, "", "", false // an application profile names no model in its id
	}
	m, found := c.models[scenarios.BaseModelID(modelID)]
	geo = scenarios.Geography(modelID)
	switch {
	case !found:
		return Model{}, "", "", false
	case geo == "":
		return m, ByFoundationID, "", true
	}
	if _, has := m.Profiles[geo]; !has {
		return Model{}, "", "", false
	}
	return m, ByProfile, geo, true
}

// OnDemandRefusal is Bedrock's answer to a foundation id called on demand
// when the model is served only through inference profiles.
func OnDemandRefusal(modelID string) string {
	return fmt.Sprintf("Invocation of model ID %s with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model.", modelID)
}

package fleet

import (
	"fmt"
	"hash/fnv"
	"strings"

	"spillway/engine/simaws/catalog"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// Application inference profiles are an account's own names for a
// foundation model or a cross-Region profile, used to track cost per team
// or application. A call through one runs as a call to its source: the
// same Regions, the same quotas, and the invocation log keeps the ARN as
// called.

// MaxApplicationProfiles bounds the profiles an account may create: Bedrock's
// own default quota is 1,000.
const MaxApplicationProfiles = 1000

// applicationProfileMark is in the ARN of every application inference
// profile: arn:aws:bedrock:{region}:{account}:application-inference-profile/{id}.
const applicationProfileMark = ":application-inference-profile/"

// ApplicationProfile is one application inference profile.
type ApplicationProfile struct {
	ID, Name, ARN string
	Source        string // the model or profile id it copies
	SourceARN     string
}

// loadApplicationProfiles registers those the scenario's accounts declare.
func (f *Fleet) loadApplicationProfiles() {
	for _, a := range f.scenario.Accounts {
		for id, source := range a.ApplicationProfiles {
			f.registerProfile(a, id, id, source)
		}
	}
}

func (f *Fleet) registerProfile(a scenarios.Account, id, name, source string) ApplicationProfile {
	p := ApplicationProfile{ID: id, Name: name, Source: source,
		ARN:       fmt.Sprintf("arn:aws:bedrock:%s:%s:application-inference-profile/%s", a.Region, a.AccountID, id),
		SourceARN: sourceARN(a, source)}
	if f.appProfiles[a.Name] == nil {
		f.appProfiles[a.Name] = map[string]ApplicationProfile{}
	}
	f.appProfiles[a.Name][id] = p
	return p
}

func sourceARN(a scenarios.Account, source string) string {
	if strings.HasPrefix(source, "arn:") {
		return source
	}
	if scenarios.Geography(source) != "" {
		return fmt.Sprintf("arn:aws:bedrock:%s:%s:inference-profile/%s", a.Region, a.AccountID, source)
	}
	return fmt.Sprintf("arn:aws:bedrock:%s::foundation-model/%s", a.Region, source)
}

// CreateApplicationProfile makes an application inference profile named
// name in account, copying source: a foundation-model or inference-profile
// ARN of a model the fleet serves. Its id is made from the name, the same
// on every run.
func (f *Fleet) CreateApplicationProfile(account, name, source string) (ApplicationProfile, *APIError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.scenario.Account(account)
	if !ok {
		return ApplicationProfile{}, &APIError{Code: wire.AccessDeniedException, Message: fmt.Sprintf("account %q is not part of this simulated fleet", account)}
	}
	if !strings.Contains(source, ":foundation-model/") && !strings.Contains(source, ":inference-profile/") {
		return ApplicationProfile{}, &APIError{Code: wire.ValidationException, Message: "modelSource.copyFrom must be the ARN of a foundation model or of a system-defined inference profile."}
	}
	if !f.serves(source) {
		return ApplicationProfile{}, &APIError{Code: wire.ValidationException, Message: "The provided model identifier is invalid."}
	}
	for _, p := range f.appProfiles[a.Name] {
		if p.Name == name {
			return ApplicationProfile{}, &APIError{Code: "ConflictException", Message: fmt.Sprintf("An inference profile named %s already exists.", name)}
		}
	}
	if len(f.appProfiles[a.Name]) >= MaxApplicationProfiles {
		return ApplicationProfile{}, &APIError{Code: "ServiceQuotaExceededException", Message: fmt.Sprintf(
			"You have reached the quota of %d application inference profiles in this account and Region.", MaxApplicationProfiles)}
	}
	h := fnv.New64a()
	h.Write([]byte(a.Name + "/" + name))
	id := strings.ToLower(fmt.Sprintf("%012x", h.Sum64()))[:12]
	return f.registerProfile(a, id, name, source[strings.LastIndexByte(source, '/')+1:]), nil
}

// ApplicationProfiles are account's application inference profiles.
func (f *Fleet) ApplicationProfiles(account string) []ApplicationProfile {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ApplicationProfile
	for _, p := range f.appProfiles[account] {
		out = append(out, p)
	}
	return out
}

// serves reports whether model is one the fleet answers: the scenario's
// or the catalog's.
func (f *Fleet) serves(model string) bool {
	if f.known[scenarios.BaseModelID(model)] {
		return true
	}
	_, _, _, ok := catalog.BuiltIn().Resolve(model)
	return ok
}

// throughProfile is the model a call really runs: the source of the
// application inference profile it names, or the model as called. ok is
// false for an application profile ARN the account does not have.
func (f *Fleet) throughProfile(acct scenarios.Account, modelID string) (string, bool) {
	i := strings.Index(modelID, applicationProfileMark)
	if i < 0 {
		return modelID, true
	}
	p, ok := f.appProfiles[acct.Name][modelID[i+len(applicationProfileMark):]]
	if !ok || !strings.Contains(modelID, ":"+acct.AccountID+":") {
		return "", false
	}
	if !strings.HasPrefix(p.Source, "arn:") && scenarios.Geography(p.Source) == "" {
		// A copy of a foundation model keeps its ARN, so that the model runs
		// where a foundation-model ARN would.
		return p.SourceARN, true
	}
	return p.Source, true
}

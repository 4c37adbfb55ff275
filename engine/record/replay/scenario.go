// Package replay plays a recorded run back: the scenario it ran, rebuilt
// from the record, and a player that hands the dashboard the run's events
// at any speed, paused or moved to any instant, with the bucket levels the
// record sampled. Nothing here talks to a backend: a replay needs no
// network and no credentials.
package replay

import (
	"fmt"
	"slices"
	"strings"

	"spillway/engine/record"
	"spillway/scenarios"
)

// Scenario is the scenario a recorded run ran, and a note when it is not
// the record's own: the file the export carries, else a scenario of the
// same name in fallback (the built-in file), else one rebuilt from what
// the record names (tenants, deployments, accounts), enough to label the
// screens.
func Scenario(l *record.Loaded, fallback *scenarios.File) (*scenarios.Scenario, string) {
	if sf := l.ScenarioFile; sf != nil && sf.TOML != "" {
		file, err := scenarios.Parse(sf.Name, []byte(sf.TOML))
		if err == nil {
			if s, err := file.Lookup(l.Scenario); err == nil {
				return s, ""
			}
		}
		// A file this version no longer accepts: fall through.
	}
	if fallback != nil {
		if s, err := fallback.Lookup(l.Scenario); err == nil {
			return s, fmt.Sprintf("this record does not carry its scenario file; the labels come from %s's %s", fallback.Path, s.Name)
		}
	}
	return rebuilt(l), "this record does not carry its scenario file and no scenario of its name is known: the screens show what the record names"
}

// rebuilt is a scenario with the names the record uses.
func rebuilt(l *record.Loaded) *scenarios.Scenario {
	s := &scenarios.Scenario{Name: l.Scenario, Title: l.Title}
	tenants, deployments, accounts := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, q := range l.Requests {
		if q.Tenant != "" && !tenants[q.Tenant] {
			tenants[q.Tenant] = true
			s.Tenants = append(s.Tenants, scenarios.Tenant{Name: q.Tenant, RPM: scenarios.Unlimited})
		}
		for _, a := range q.Attempts {
			if !deployments[a.Deployment] {
				deployments[a.Deployment] = true
				s.Deployments = append(s.Deployments, scenarios.Deployment{Name: a.Deployment, Model: a.Model, Account: a.Account, RPM: scenarios.Unlimited})
			}
			if a.Account != "" && !accounts[a.Account] {
				accounts[a.Account] = true
				s.Accounts = append(s.Accounts, scenarios.Account{Name: a.Account})
			}
		}
	}
	for _, b := range l.Buckets {
		name, isTenant := strings.CutPrefix(string(b.ID), "tenant/")
		if !isTenant || b.ID.Tokens() {
			continue
		}
		if i := slices.IndexFunc(s.Tenants, func(t scenarios.Tenant) bool { return t.Name == name }); i >= 0 {
			s.Tenants[i].RPM = b.Limit
		}
	}
	return s
}

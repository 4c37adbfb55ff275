package emulator

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"spillway/scenarios"
)

// World merges every scenario of a file into the one set of accounts a
// standalone emulator serves, so that one emulator answers a run of any
// scenario. Accounts with the same name are the same account: their Regions
// and denied models are joined, and the first scenario to give a Region a
// quota sets it. Logs settings come from the file's default scenario.
//
// speed divides every simulated latency and the log ingestion delay, so a
// run paced at --speed X sees the emulator at the same pace.
func World(f *scenarios.File, speed float64) *scenarios.Scenario {
	w := &scenarios.Scenario{Name: "emulator", Title: "every account of " + f.Path}
	if s, err := f.Lookup(f.Default); err == nil {
		w.Logs = s.Logs
	}
	index := map[string]int{}
	for _, s := range f.Scenarios {
		for _, a := range s.Accounts {
			i, seen := index[a.Name]
			if !seen {
				a.RegionQuotaRPM = maps.Clone(a.RegionQuotaRPM)
				a.RegionQuotaTPM = maps.Clone(a.RegionQuotaTPM)
				a.ApplicationProfiles = maps.Clone(a.ApplicationProfiles)
				a.Regions = slices.Clone(a.Regions)
				a.DeniedModels = slices.Clone(a.DeniedModels)
				index[a.Name] = len(w.Accounts)
				w.Accounts = append(w.Accounts, a)
				continue
			}
			m := &w.Accounts[i]
			m.RegionQuotaRPM = keepFirst(m.RegionQuotaRPM, a.RegionQuotaRPM)
			m.RegionQuotaTPM = keepFirst(m.RegionQuotaTPM, a.RegionQuotaTPM)
			m.ApplicationProfiles = keepFirst(m.ApplicationProfiles, a.ApplicationProfiles)
			if m.QuotaTPM.OrUnlimited().IsUnlimited() {
				m.QuotaTPM = a.QuotaTPM // the first scenario to give the account a token quota sets it
			}
			for _, r := range a.Regions {
				if !slices.Contains(m.Regions, r) {
					m.Regions = append(m.Regions, r)
				}
			}
			for _, d := range a.DeniedModels {
				if !slices.Contains(m.DeniedModels, d) {
					m.DeniedModels = append(m.DeniedModels, d)
				}
			}
		}
		w.Deployments = append(w.Deployments, s.Deployments...)
		w.Models = append(w.Models, s.Models...)
	}
	w.Models = append(w.Models, f.Models...)
	if speed > 0 && speed != 1 {
		for i := range w.Models {
			m := &w.Models[i]
			m.LatencyP50 = time.Duration(float64(m.LatencyP50) / speed)
			m.LatencyP95 = time.Duration(float64(m.LatencyP95) / speed)
			m.TTFT = time.Duration(float64(m.TTFT) / speed)
			m.TokensPerSecond *= speed
		}
		w.Logs.Delay = time.Duration(float64(w.Logs.Delay) / speed)
	}
	return w
}

// keepFirst adds to dst the keys of src it does not have yet: the first
// scenario to set one sets it.
func keepFirst[V any](dst, src map[string]V) map[string]V {
	for k, v := range src {
		if _, set := dst[k]; !set {
			if dst == nil {
				dst = map[string]V{}
			}
			dst[k] = v
		}
	}
	return dst
}

// WriteProfiles writes an AWS shared credentials file and config file into
// dir with one profile per simulated account, named as the scenarios name
// them, so that `--profile account1` or Spillway's per-account profiles reach
// the right simulated account. It returns the two paths.
func (s *Server) WriteProfiles(dir string) (credentials, config string, err error) {
	var cred, conf strings.Builder
	written := map[string]bool{}
	for _, a := range s.Accounts() {
		for _, profile := range []string{a.Profile, a.Name} {
			if written[profile] {
				continue
			}
			written[profile] = true
			fmt.Fprintf(&cred, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n", profile, a.AccessKeyID, SecretAccessKey)
			section := "profile " + profile
			if profile == "default" {
				section = "default"
			}
			fmt.Fprintf(&conf, "[%s]\nregion = %s\n\n", section, a.Region)
		}
	}
	credentials, config = filepath.Join(dir, "credentials"), filepath.Join(dir, "config")
	if err := os.WriteFile(credentials, []byte(cred.String()), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(config, []byte(conf.String()), 0o600); err != nil {
		return "", "", err
	}
	return credentials, config, nil
}

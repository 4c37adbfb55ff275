package fleet

import (
	"slices"

	"spillway/scenarios"
)

// geographies lists the destination Regions of each cross-Region inference
// profile prefix. It is not a closed list: an account's own regions key
// serves prefixes missing here.
var geographies = map[string][]string{
	"us":     {"us-east-1", "us-east-2", "us-west-2"},
	"us-gov": {"us-gov-east-1", "us-gov-west-1"},
	"ca":     {"ca-central-1", "ca-west-1"},
	"eu":     {"eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"},
	"apac":   {"ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-4"},
	"jp":     {"ap-northeast-1", "ap-northeast-3"},
	"au":     {"ap-southeast-2", "ap-southeast-4"},
}

// globalRegions are where a "global." profile may land: every commercial
// Region above.
var globalRegions = func() []string {
	var all []string
	for geo, regions := range geographies {
		if geo == "us-gov" {
			continue
		}
		for _, r := range regions {
			if !slices.Contains(all, r) {
				all = append(all, r)
			}
		}
	}
	slices.Sort(all)
	return all
}()

// destinations returns the Regions a call may land in, sorted, or nil when
// the geography is unknown and the account names none.
func destinations(geo string, accountRegions []string) []string {
	var regions []string
	switch {
	case geo == "global":
		regions = globalRegions
	case geographies[geo] != nil:
		regions = geographies[geo]
	default:
		return slices.Sorted(slices.Values(accountRegions))
	}
	if len(accountRegions) == 0 {
		return regions
	}
	var out []string
	for _, r := range regions {
		if slices.Contains(accountRegions, r) {
			out = append(out, r)
		}
	}
	return out
}

// Regions lists, sorted, every Region the scenario's calls may run in: the
// destinations of its cross-Region profiles and the source Regions of its
// foundation-model calls. Fault menus offer an outage for each.
func Regions(s *scenarios.Scenario) []string {
	var out []string
	for _, d := range s.Deployments {
		acct, _ := s.Account(d.Account)
		regions := []string{acct.Region}
		if geo := scenarios.Geography(d.Model); geo != "" {
			regions = destinations(geo, acct.Regions)
		}
		for _, r := range regions {
			if r != "" && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	slices.Sort(out)
	return out
}

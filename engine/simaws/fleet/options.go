package fleet

import "spillway/scenarios"

// FaultOptions are the faults that fit scenario s, for a menu to toggle
// live: an outage of each Region its calls can run in, and for each
// account a throttling storm and a quota cut, then slower answers and
// injected server errors everywhere.
func FaultOptions(s *scenarios.Scenario) []scenarios.Fault {
	var out []scenarios.Fault
	for _, region := range Regions(s) {
		out = append(out, scenarios.Fault{Kind: scenarios.RegionOutage, Region: region})
	}
	for _, a := range s.Accounts {
		out = append(out,
			scenarios.Fault{Kind: scenarios.ThrottleStorm, Account: a.Name, Rate: 0.5},
			scenarios.Fault{Kind: scenarios.QuotaCut, Account: a.Name, QuotaRPM: 2})
	}
	return append(out,
		scenarios.Fault{Kind: scenarios.SlowDown, Factor: 3},
		scenarios.Fault{Kind: scenarios.ErrorInjection, Error: "InternalServerException", Rate: 0.2})
}

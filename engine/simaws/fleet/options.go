package fleet

import (
	"time"

	"spillway/scenarios"
)

// FaultOptions are the faults that fit scenario s, for a menu to toggle
// live: an outage of each Region its calls can run in, and for each
// account a throttling storm and a quota cut, then slower answers and
// injected server errors everywhere, and where a tenant streams, the
// streaming faults.
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
	out = append(out,
		scenarios.Fault{Kind: scenarios.SlowDown, Factor: 3},
		scenarios.Fault{Kind: scenarios.ErrorInjection, Error: "InternalServerException", Rate: 0.2})
	for _, t := range s.Tenants {
		if t.Stream {
			// The streaming faults, where something streams.
			return append(out,
				scenarios.Fault{Kind: scenarios.StreamCut, Tokens: 40, Rate: 0.5},
				scenarios.Fault{Kind: scenarios.StreamStall, Tokens: 20, Stall: 20 * time.Second},
				scenarios.Fault{Kind: scenarios.StreamSlow, Factor: 4},
				scenarios.Fault{Kind: scenarios.StreamError, Tokens: 20, Rate: 0.3, Error: "modelStreamErrorException"})
		}
	}
	return out
}

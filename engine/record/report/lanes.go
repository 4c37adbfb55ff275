package report

import (
	"math"

	"spillway/engine/record"
)

// Lane codes: the outcome's index in outcomes, laneOther for a request
// still in flight (or an outcome this version does not know), plus
// laneFallback when a later group served it.
const (
	laneOther    = 4
	laneFallback = 8
)

// lanes are a run's requests, one row each, in arrival order, as parallel
// arrays of numbers: a 36,000-request run is a few hundred kilobytes this
// way, where an object per request would be several megabytes. Names are
// indices into the dictionaries.
type lanes struct {
	Start []int `json:"start"` // ms since the run started
	// Dur is how long the request took, in ms; -1 for one still in flight
	// when the record was taken, drawn to the end of the axis.
	Dur  []int `json:"dur"`
	Code []int `json:"code"`
	// Switch is, for a request that fell back, the ms from its start to
	// its first attempt in a later group; 0 otherwise.
	Switch      []int    `json:"switch"`
	Tenant      []int    `json:"tenant"`
	Deployment  []int    `json:"deployment"`
	Region      []int    `json:"region"`
	Tenants     []string `json:"tenants"`
	Deployments []string `json:"deployments"` // [0] is "": no deployment
	Regions     []string `json:"regions"`     // [0] is "": Region unknown
}

// dictionary numbers the distinct strings it sees, in order of first sight.
type dictionary struct {
	index map[string]int
	names []string
}

func newDictionary(first ...string) *dictionary {
	d := &dictionary{index: map[string]int{}}
	for _, s := range first {
		d.id(s)
	}
	return d
}

func (d *dictionary) id(s string) int {
	if i, ok := d.index[s]; ok {
		return i
	}
	d.index[s] = len(d.names)
	d.names = append(d.names, s)
	return len(d.names) - 1
}

func newLanes(reqs []record.Request) *lanes {
	n := len(reqs)
	l := &lanes{
		Start: make([]int, n), Dur: make([]int, n), Code: make([]int, n), Switch: make([]int, n),
		Tenant: make([]int, n), Deployment: make([]int, n), Region: make([]int, n),
	}
	tenants, deployments, regions := newDictionary(), newDictionary(""), newDictionary("")
	for i, q := range reqs {
		l.Start[i] = ms(q.StartMS)
		l.Dur[i] = -1
		if q.Outcome != record.OutcomePending {
			l.Dur[i] = max(0, ms(q.EndMS)-l.Start[i])
		}
		l.Code[i] = laneOther
		for j, o := range outcomes {
			if q.Outcome == o {
				l.Code[i] = j
			}
		}
		if q.Fallback {
			l.Code[i] |= laneFallback
			l.Switch[i] = switchedAt(q)
		}
		l.Tenant[i] = tenants.id(q.Tenant)
		l.Deployment[i] = deployments.id(q.Deployment)
		l.Region[i] = regions.id(q.Region)
	}
	l.Tenants, l.Deployments, l.Regions = tenants.names, deployments.names, regions.names
	return l
}

// switchedAt is the ms from a request's start to its first attempt in a
// group other than its first attempt's: where it fell back.
func switchedAt(q record.Request) int {
	if len(q.Attempts) == 0 {
		return 0
	}
	first := q.Attempts[0].Group
	for _, a := range q.Attempts[1:] {
		if a.Group != first {
			return max(0, ms(a.StartMS)-ms(q.StartMS))
		}
	}
	return 0
}

// ms rounds a time in milliseconds to a whole one: a lane is a pixel wide
// for far longer than that.
func ms(v float64) int {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return int(math.Round(v))
}

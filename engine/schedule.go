package engine

import "time"

// itemKind is what a scheduled item does when its time comes.
type itemKind uint8

const (
	arrive     itemKind = iota // a tenant's next request arrives
	answer                     // an instant backend's reply lands
	poll                       // read the Region histogram
	faultOn                    // a declared fault starts
	faultOff                   // a declared fault ends
	sharedSync                 // time to read the shared buckets again (shared limits only)
	retry                      // a request tries its group again after a backoff
	deadline                   // a request's gateway timeout runs out
	firstToken                 // an instant backend's streamed answer sends its first token
)

type item struct {
	at     time.Time
	seq    uint64 // breaks ties in scheduling order, which keeps runs deterministic
	kind   itemKind
	tenant *tenant
	req    *request
	fault  int // faultOn, faultOff: the fault's id
	gen    int // arrive: the tenant's rate generation it was scheduled under; firstToken: the attempt
}

// schedule is a min-heap of items by (at, seq).
type schedule []item

func (s schedule) Len() int { return len(s) }
func (s schedule) Less(i, j int) bool {
	if !s[i].at.Equal(s[j].at) {
		return s[i].at.Before(s[j].at)
	}
	return s[i].seq < s[j].seq
}
func (s schedule) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s *schedule) Push(x any)   { *s = append(*s, x.(item)) }
func (s *schedule) Pop() any {
	old := *s
	it := old[len(old)-1]
	*s = old[:len(old)-1]
	return it
}

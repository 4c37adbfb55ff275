package emulator

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// MaxSourceRegions bounds the distinct source Regions the emulator accepts
// in credential scopes over its life. AWS has about 35 Regions; every name
// accepted is kept, in the Region table and in the quotas of each account
// and model called from it, so a client inventing one a call is refused
// past the bound.
const MaxSourceRegions = 64

// regionShape is what an AWS Region name looks like: a two-to-four-letter
// area, one to three words and a number, as in us-east-1, us-gov-west-1,
// ap-southeast-4 or eusc-de-east-1.
var regionShape = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+){1,3}-[0-9]{1,2}$`)

// maxRegionLength bounds a Region name; the longest today has 14 letters.
const maxRegionLength = 25

// regionNames interns the source Regions clients name, at most
// MaxSourceRegions of them. A name cut from the Authorization header
// would otherwise keep the whole header alive in every invocation log
// record: 300 bytes a request over a long run.
type regionNames struct {
	mu    sync.RWMutex
	names map[string]string
}

// intern returns the kept copy of name, or an error in the words AWS uses
// for a credential scope's bad Region.
func (n *regionNames) intern(name string) (string, error) {
	n.mu.RLock()
	kept, ok := n.names[name]
	n.mu.RUnlock()
	if ok {
		return kept, nil
	}
	if len(name) > maxRegionLength || !regionShape.MatchString(name) {
		return "", fmt.Errorf("Credential should be scoped to a valid region, not '%s'.", clip(name))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if kept, ok := n.names[name]; ok {
		return kept, nil
	}
	if len(n.names) >= MaxSourceRegions {
		return "", fmt.Errorf("Credential should be scoped to a valid region, not '%s': the emulator has taken %d distinct source Regions, its limit, and takes no new ones",
			name, MaxSourceRegions)
	}
	if n.names == nil {
		n.names = map[string]string{}
	}
	kept = strings.Clone(name)
	n.names[kept] = kept
	return kept, nil
}

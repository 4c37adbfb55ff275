package tui

import (
	"strings"

	"spillway/scenarios"
)

// panel names one of the dashboard's panels.
type panel int

const (
	panelLanes panel = iota
	panelBuckets
	panelFigures
	panelRegions
	panelTrends
	panelTicker
	panelCount
	noPanel panel = -1 // nothing is maximised
)

var panelNames = [panelCount]string{"lanes", "buckets", "live figures", "Region histogram", "trends", "latest decisions"}

// sideBySideWidth is the narrowest terminal that puts the other panels
// beside the lanes; below it they stack under them, so gauges keep their
// full width.
const sideBySideWidth = 140

// layout is where each panel goes for the current size: the lanes, then
// the others in a column beside them or a stack under them.
type layout struct {
	bodyH          int
	lanesW, lanesH int  // 0 when the lanes are not drawn
	side           bool // the stack is beside the lanes, not under them
	stackW         int
	stack          []slot
}

// slot is a panel and the rows it gets.
type slot struct {
	panel  panel
	height int
}

// has reports whether the layout gives p a place of its own.
func (l layout) has(p panel) bool {
	if p == panelLanes {
		return l.lanesH > 0
	}
	for _, s := range l.stack {
		if s.panel == p {
			return true
		}
	}
	return false
}

// trendsNeed is the trend panel's height: a title, eight series and the
// marks.
const trendsNeed = 10

// lanesLeast is the fewest rows the stacked layout leaves the lanes before
// it gives the live figures or the trends a place of their own.
const lanesLeast = 16

func (m *Model) layout() layout { return m.layoutFor(m.inPlace) }

// layoutFor is the layout with inPlace (what v chose) in the buckets'
// place; that panel then has no place of its own, so it is never drawn
// twice.
func (m *Model) layoutFor(inPlace int) layout {
	l := layout{bodyH: m.height - m.headerHeight() - m.footerHeight()}
	switch m.maximised {
	case noPanel:
	case panelLanes:
		l.lanesW, l.lanesH = m.width, l.bodyH
		return l
	default:
		l.stackW, l.stack = m.width, []slot{{m.maximised, l.bodyH}}
		return l
	}
	regionsNeed := m.regionsNeed()
	bucketsNeed := len(m.snap.Buckets) + 1
	if m.faults.open {
		// The fault menu takes the buckets' place, so the lanes and the
		// Region histogram stay in view while a fault takes effect.
		bucketsNeed = max(bucketsNeed, len(m.faults.options)+1)
	}
	figuresNeed := len(m.snap.Buckets) + 2
	inBuckets := func(most int) int {
		switch {
		case m.faults.open:
		case inPlace == inPlaceFigures:
			// What v shows takes the room it needs, up to most.
			return min(figuresNeed, most)
		case inPlace == inPlaceTrends:
			return min(trendsNeed, most)
		}
		return min(bucketsNeed, most)
	}
	if m.width >= sideBySideWidth {
		l.side = true
		l.stackW = m.width * 9 / 20
		l.lanesW, l.lanesH = m.width-l.stackW-1, l.bodyH
		buckets := inBuckets(l.bodyH / 2)
		left := l.bodyH - buckets // for the Region histogram, less what the others take
		figures, trends, ticker := 0, 0, 0
		if inPlace != inPlaceFigures && left-figuresNeed >= regionsNeed {
			figures = figuresNeed
			left -= figures
		}
		if inPlace != inPlaceTrends && left-regionsNeed >= trendsNeed+4 {
			trends = trendsNeed
			left -= trends
		}
		if spare := left - regionsNeed; spare >= 4 {
			ticker = spare
			left -= ticker
		}
		l.stack = slots(slot{panelBuckets, buckets}, slot{panelFigures, figures}, slot{panelRegions, left},
			slot{panelTrends, trends}, slot{panelTicker, ticker})
		return l
	}
	l.lanesW, l.stackW = m.width, m.width
	buckets := min(bucketsNeed, l.bodyH/3)
	if inPlace != inPlaceBuckets && !m.faults.open {
		buckets = inBuckets(l.bodyH / 2) // the lanes give up the room
	}
	regions := min(regionsNeed, l.bodyH*2/5)
	l.lanesH = l.bodyH - buckets - regions
	l.stack = []slot{{panelBuckets, buckets}}
	// A tall window gives the live figures and then the trends their own
	// places, under the buckets, while the lanes keep enough rows.
	if inPlace != inPlaceFigures && l.lanesH-figuresNeed >= lanesLeast {
		l.stack = append(l.stack, slot{panelFigures, figuresNeed})
		l.lanesH -= figuresNeed
	}
	if inPlace != inPlaceTrends && l.lanesH-trendsNeed >= lanesLeast {
		l.stack = append(l.stack, slot{panelTrends, trendsNeed})
		l.lanesH -= trendsNeed
	}
	l.stack = append(l.stack, slot{panelRegions, regions})
	return l
}

// slots are the given slots that have rows.
func slots(all ...slot) []slot {
	out := all[:0]
	for _, s := range all {
		if s.height > 0 {
			out = append(out, s)
		}
	}
	return out
}

// laneRows is how many lane rows the lanes panel shows, for paging.
func (m *Model) laneRows() int {
	l := m.layout()
	return m.lanes.plan(m.state, m.styles, l.lanesW, max(1, l.lanesH)).rows
}

// body draws the panels where the layout puts them.
func (m *Model) body(l layout) string {
	parts := make([]string, 0, len(l.stack))
	for _, s := range l.stack {
		parts = append(parts, m.panelView(s.panel, l.stackW, s.height))
	}
	stack := strings.Join(parts, "\n")
	switch {
	case l.lanesH == 0:
		return stack
	case len(parts) == 0:
		return m.lanesView(l.lanesW, l.lanesH)
	case l.side:
		return besides(m.lanesView(l.lanesW, l.lanesH), m.styles.Dim.Render("│"), stack)
	}
	return m.lanesView(l.lanesW, l.lanesH) + "\n" + stack
}

// panelView draws one panel. The buckets' place holds the fault menu while
// it is open, and what v chose where the figures and trends have no place
// of their own.
func (m *Model) panelView(p panel, width, height int) string {
	switch p {
	case panelLanes:
		return m.lanesView(width, height)
	case panelBuckets:
		switch {
		case m.faults.open && m.maximised == noPanel:
			on := func(f scenarios.Fault) bool { return m.state.faultOn(f) != 0 }
			return m.faults.View(on, m.styles, width, height)
		case m.maximised == noPanel && m.inPlace == inPlaceFigures:
			return m.figuresView(width, height)
		case m.maximised == noPanel && m.inPlace == inPlaceTrends:
			return m.trendsView(width, height)
		}
		return m.bucketsView(width, height)
	case panelFigures:
		return m.figuresView(width, height)
	case panelRegions:
		return m.regions(width, height)
	case panelTrends:
		return m.trendsView(width, height)
	case panelTicker:
		return m.tickerView(width, height)
	}
	return ""
}

// What v cycles the buckets' place through on a narrow screen.
const (
	inPlaceBuckets = iota
	inPlaceFigures
	inPlaceTrends
	inPlaceCount
)

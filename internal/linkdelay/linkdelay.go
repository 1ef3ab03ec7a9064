package linkdelay

import (
	"sort"
	"time"
)

// Delays are one interface's: Down before a link that went down is acted
// on, Up before one that came up is. Zero acts at once.
type Delays struct {
	Down, Up time.Duration
}

// Verdict is what Filter.Link decided about one report.
type Verdict uint8

const (
	// Same: the report repeats the state acted on; nothing to do.
	Same Verdict = iota
	// Pass: act on the change now.
	Pass
	// Held: the change is held until Deadline (newly, or a repeat of the
	// change already held, whose deadline stays); nothing to do now.
	Held
	// Cancelled: the link is back in the state acted on before the held
	// change's delay ran out; the change is dropped.
	Cancelled
)

func (v Verdict) String() string {
	switch v {
	case Same:
		return "same"
	case Pass:
		return "pass"
	case Held:
		return "held"
	case Cancelled:
		return "cancelled"
	}
	return "Verdict(?)"
}

// Change is a held change whose delay ran out: act on it.
type Change struct {
	Name string
	Up   bool
}

type link struct {
	up      bool // the state acted on
	seenUp  bool
	held    bool
	heldUp  bool
	heldEnd time.Time
}

// Filter holds the changes of the interfaces that have delays. Build it
// with New.
type Filter struct {
	delays map[string]Delays
	links  map[string]*link
}

// New returns a Filter for the given delays, by interface name. An
// interface without an entry (or with zero delays) is never held.
func New(delays map[string]Delays) *Filter {
	f := &Filter{links: map[string]*link{}}
	f.SetDelays(delays)
	return f
}

// SetDelays replaces the delays (a reload). Changes already held keep
// their deadlines; a held change of an interface that no longer has a
// delay is acted on at the next Fire.
func (f *Filter) SetDelays(delays map[string]Delays) {
	f.delays = map[string]Delays{}
	for name, d := range delays {
		if d.Down > 0 || d.Up > 0 {
			f.delays[name] = d
		}
	}
	for name, l := range f.links {
		if _, ok := f.delays[name]; !ok && l.held {
			l.heldEnd = time.Time{}
		}
	}
}

// Seed records the state of an interface when it is first known (at
// start, or when its delays first appear), without a change: up counts as
// seen up.
func (f *Filter) Seed(name string, up bool) {
	if _, ok := f.links[name]; ok {
		return
	}
	f.links[name] = &link{up: up, seenUp: up}
}

// Link reports name's link state at now and returns what to do about it.
func (f *Filter) Link(name string, up bool, now time.Time) Verdict {
	d, delayed := f.delays[name]
	l := f.links[name]
	if l == nil {
		l = &link{up: !up} // never seen: this report is a change
		f.links[name] = l
	}
	if l.held {
		if l.heldUp == up {
			return Held
		}
		// Back to the state acted on: the flap was shorter than the delay.
		l.held = false
		return Cancelled
	}
	if l.up == up {
		return Same
	}
	wait := d.Down
	if up {
		wait = d.Up
	}
	if delayed && l.seenUp && wait > 0 {
		l.held, l.heldUp, l.heldEnd = true, up, now.Add(wait)
		return Held
	}
	l.up = up
	l.seenUp = l.seenUp || up
	return Pass
}

// Removed reports that name was deleted: a held change is dropped and the
// link counts as down at once. It reports whether a change was dropped.
func (f *Filter) Removed(name string) bool {
	l := f.links[name]
	if l == nil {
		f.links[name] = &link{}
		return false
	}
	dropped := l.held
	l.held, l.up = false, false
	return dropped
}

// Deadline is the earliest held change's.
func (f *Filter) Deadline() (time.Time, bool) {
	var next time.Time
	found := false
	for _, l := range f.links {
		if l.held && (!found || l.heldEnd.Before(next)) {
			next, found = l.heldEnd, true
		}
	}
	return next, found
}

// Fire returns the held changes whose delay has run out at now, by name,
// and acts on them.
func (f *Filter) Fire(now time.Time) []Change {
	var out []Change
	for name, l := range f.links {
		if !l.held || now.Before(l.heldEnd) {
			continue
		}
		l.held, l.up = false, l.heldUp
		l.seenUp = l.seenUp || l.up
		out = append(out, Change{Name: name, Up: l.up})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Pending reports the change held for name, if any, and when it is due.
func (f *Filter) Pending(name string) (up bool, due time.Time, ok bool) {
	l := f.links[name]
	if l == nil || !l.held {
		return false, time.Time{}, false
	}
	return l.heldUp, l.heldEnd, true
}

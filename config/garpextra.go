package config

import (
	"strconv"
	"time"
)

// garpExtraIfArg reads "[all] DELAY" of garp_extra_if and its aliases
// (DELAY in whole seconds, 0..86400; 0 turns it off). A bad or missing
// delay ignores the line, as keepalived does.
func (p *parser) garpExtraIfArg(l *line, subject string) (delay time.Duration, all, ok bool) {
	kw := l.toks[0].s
	secs := -1
	for _, t := range l.toks[1:] {
		if t.s == "all" {
			all = true
			continue
		}
		n, err := strconv.Atoi(t.s)
		if err != nil || n < 0 || n > 86400 {
			p.warn(t.pos, kw, "ignored", "%s%s %q invalid", subject, kw, t.s)
			return 0, false, false
		}
		secs = n
	}
	if secs < 0 {
		p.warn(l.pos(), kw, "ignored", "%s%s specified without time", subject, kw)
		return 0, false, false
	}
	return time.Duration(secs) * time.Second, all, true
}

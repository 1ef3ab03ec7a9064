package daemon

import "time"

// splitBrainMinSilence is the least silence, and the least time as
// master, that splitBrainHealed accepts whatever the Master_Down_Interval.
// At advert_int 0.01 s the interval is under 40 ms, as short as the stall
// of a loaded host: a crossing advert sent or read that late would look
// like a split brain. A split brain shorter than this is not notified
// again; it only matters with advert_int below 0.3 s.
const splitBrainMinSilence = time.Second

// splitBrainHealed is the rule that decides whether a master that hears a
// lower-priority advert at now runs notify_master again. It is pure: the
// loop passes when this instance became master (masterSince), when it last
// accepted an advert from any other router (lastHeard, zero for never) and
// its Master_Down_Interval (down).
//
// A split brain has healed when both held for a whole Master_Down_Interval
// (at least splitBrainMinSilence) before now:
//
//   - we were master (now - masterSince >= down), and
//   - no advert from another router reached us (now - lastHeard >= down).
//
// Both are needed. The old master's last advert, sent before it heard our
// first one, reaches us just after our takeover (masterSince is recent),
// and while we were backup we had been hearing its adverts (lastHeard is
// recent): such a crossing advert never counts, whatever its delay within a
// Master_Down_Interval. A router that became master because our adverts
// stopped reaching it for its own Master_Down_Interval (at least ours: its
// priority is lower, its skew longer) was silent for that long, backups do
// not advertise, and its first advert that reaches us again is the healing
// one; its further adverts, and those of a third router arriving at the
// same time, are not (lastHeard is recent again), so a heal is notified
// once.
func splitBrainHealed(masterSince, lastHeard, now time.Time, down time.Duration) bool {
	down = max(down, splitBrainMinSilence)
	if masterSince.IsZero() || now.Sub(masterSince) < down {
		return false
	}
	return lastHeard.IsZero() || now.Sub(lastHeard) >= down
}

// silence is how long a master had heard no other router at now (since it
// became master when it never had), for the log line.
func silence(lastHeard, masterSince, now time.Time) time.Duration {
	if lastHeard.IsZero() {
		return now.Sub(masterSince)
	}
	return now.Sub(lastHeard)
}

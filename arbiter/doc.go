// Package arbiter settles which node of a vigil firewall pair is master when
// the VRRP adverts between them are lost while both are alive (a filtering
// switch, a black-holed segment), or when the master's segments fail
// without a link change. The two vigild processes exchange a heartbeat over
// the conntrack sync link: each sends its view of the tracked group (every
// instance's name, VRRP state, effective priority, whether it hears a
// master, and how many of its monitored segments are down). From its own
// view and the peer's latest one, the Arbiter decides whether this node's
// tracked instances must be held in BACKUP (vrrp.Hold) and whether a master
// must hand over (vrrp.Release).
//
// It owns the pure arbitration core (Arbiter: Decide and PeerView take
// `now`; no clock, socket or goroutine), the verdict on a witness from its
// probes (Witness), and the heartbeat's wire codec (View's AppendBinary and
// UnmarshalBinary, wire.go). It must not do I/O: the heartbeat socket and its
// authenticated envelope are package conntracksync's (Heartbeat link), the
// witness probes and the VRRP hooks are the daemon's.
//
// # Decision table
//
// "Fresh" means a heartbeat from the peer arrived within Config.DeadAfter.
// A node is "starved" when one of its tracked instances is a BACKUP whose
// Master_Down_Timer ran out, while held, with no master's advert heard
// (vrrp.Machine.Starved). The views "disagree" when both claim MASTER, or
// either side is starved.
//
//	heartbeat  views           outcome
//	---------  --------------  -----------------------------------------------
//	never      -               ModeWaiting: no hold, no yield (RFC 5798 alone)
//	stale      -               ModeLost: no hold, no yield, a warning; the
//	                           adverts still decide (both lost: RFC 5798)
//	fresh      agree           ModeAgreed: the ranking names the master; the
//	                           other node holds (a takeover on silence is
//	                           vetoed; preempting a master it hears is not);
//	                           a master that loses (fault, health) yields
//	fresh      disagree        ModeSplit: the same ranking, hold and yield;
//	                           reported as a split until the views agree
//
// The ranking, first difference wins: a node with an instance in FAULT or
// INIT (not started, or stopping) loses (RuleFault); fewer segments down wins (RuleHealth); the node that
// is master now, when exactly one is, stays (RuleIncumbent); the higher
// sum of effective priorities wins (RulePriority); the higher sync address
// wins (RuleAddress). Both nodes rank the same two views, so exactly one
// wins.
//
// Concurrency: an Arbiter is owned by the daemon loop; it is not safe for
// concurrent use.
package arbiter

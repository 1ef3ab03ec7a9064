// Package linkdelay is the pure core of keepalived's
// interface_up_down_delays: it decides when a link's change of state (up
// to down, down to up) is acted on. A change is held for the interface's
// delay in its direction; if the link returns to the state last acted on
// before the delay runs out, the change is dropped, so a flap shorter than
// the delay causes no transition. A later report of the same direction
// while a change is held leaves its deadline as it is. Delays apply only
// once the interface has been seen up (its first coming up is acted on at
// once), and a deleted interface is acted on at once.
//
// What it owns: per interface, the state last acted on and the change held,
// if any. What it must not do: read a clock, a socket or netlink, or start
// goroutines; the daemon passes the time in, asks for Deadline and calls
// Fire when it comes (the shape of vrrp.Machine). Not safe for concurrent
// use: the daemon's loop is its only user.
package linkdelay

// Package notify tells the outside world about VRRP state changes the way
// keepalived 2.2.7 does: notify_master / notify_backup / notify_fault /
// notify_stop / notify_deleted scripts run as configured, the generic
// `notify` script gets "INSTANCE|GROUP name STATE priority" appended (a
// group's priority is always 0), notify_master_rx_lower_pri runs as is, and
// notify_fifo / vrrp_notify_fifo receive one line per event,
//
//	INSTANCE "VI_1" MASTER 100
//	GROUP "G1" BACKUP 0
//
// with MASTER_PRIORITY / BACKUP_PRIORITY lines for priority changes and
// MASTER_RX_LOWER_PRI for a master that heard a lower priority. A
// notify_fifo_script is started once with the FIFO's path as its last
// argument and reads the FIFO. LVSLine formats the health checkers' lines
// (VS / RS … UP|DOWN) that the daemon writes to notify_fifo and
// lvs_notify_fifo.
//
// Owns: Event (the structured state-change record), Notifier (per instance
// and per group queues of scripts, run in order, one at a time, each with a
// timeout that kills its process group), FIFO (creation, non-blocking
// writes, the reader script), and their failure counters.
//
// Every script start goes through check.Command, which applies script
// security again right before the exec: a script made unsafe since the
// configuration was loaded is refused and counted (Stats.Refused,
// FIFOStats.ScriptRefused), unless Command.AllowUnsafe says script security
// is off.
//
// The e-mail alerts (smtp_alert) are the subpackage mail.
//
// Must not: block the daemon loop (Notifier.Notify only appends to a queue
// and writes one line to each non-blocking FIFO), decide states, or touch
// the network or kernel state.
//
// Concurrency: Notifier and FIFO are safe for concurrent use. Each queue has
// at most one goroutine, started when the queue gets work and ending when it
// is empty; Close kills running scripts and waits for every goroutine.
package notify

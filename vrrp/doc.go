// Package vrrp is VRRP for vigil: the VRRPv3 (RFC 5798) and VRRPv2 (RFC 3768)
// packet codec with its receive checks, the raw IP-protocol-112 socket (Conn),
// and the per-virtual-router state machine (Machine).
//
// # What it owns
//
//   - Machine (machine*.go, state*.go, reason*.go): RFC 5798 §6 as a pure
//     function of (Event, now) to []Action, with Deadline for the one timer
//     that runs in each state. It adds keepalived's FAULT state, nopreempt,
//     preempt_delay, `state MASTER` below priority 255, lower_prio_no_advert,
//     down_timer_adverts, the sync-group pulls ForceBackup/ForceMaster, and
//     VIPRemoved (a VIP deleted behind a master's back), Release (an
//     operator's or the arbiter's hand-over), and Hold (the arbiter's veto
//     over a takeover on silence, or a preemption).
//   - SyncGroup (syncgroup.go): vrrp_sync_group's rules, pure.
//   - Operator (operator.go): what vigilctl demote, promote and maintenance
//     do to an instance's effective priority and state, pure.
//   - Every wire fact, defined once (packet.go, wire.go): protocol number,
//     TTL, the advert type, the multicast groups, the centisecond unit, the
//     VRID, priority and interval ranges, PeekVRID for demultiplexing and
//     the interval conversions; config and the daemon use these.
//   - The codec and its typed drop reasons (RFC 5798 §5, §7.1; RFC 3768 §5)
//     and Conn (packet*.go, drop*.go, conn*.go), with an in-memory twin in
//     vrrptest. The Linux Conn reads and sends with recvmsg / sendmsg
//     through the socket's RawConn and buffers built once: an advert read,
//     checked or sent allocates nothing. ReadBatch (BatchReader) takes every
//     advert queued on the socket, up to a batch, in one recvmmsg call.
//     Adverts leave on a second raw socket that receives nothing and is not
//     in Go's network poller (a send on a polled socket woke the poller's
//     thread), and the socket calls are raw system calls (none blocks).
//   - VRRPv2's IP Authentication Header as keepalived implements it
//     (ah.go; RFC 3768 §5.3.6.2, RFC 2402, RFC 2403): AH.Append and AH.Open
//     build and verify the whole IPv4 datagram (HMAC-MD5-96, constant-time
//     compare), AHState is the sequence counter and replay check, and
//     ConnOptions.AH opens the IP protocol 51 socket.
//
// # What it must not touch
//
// It never adds addresses, sends GARP/NA, runs scripts or logs transitions:
// it returns actions (SendAdvert, AddVIPs, RemoveVIPs, Announce, Transition)
// and the daemon loop carries them out. It never imports vip, notify,
// conntracksync or internal/daemon. The Machine, SyncGroup and Operator
// files (and wire.go) import no net, os or syscall and read no clock (purity_test.go
// enforces it), and the Machine does not use the codec: events carry plain
// values.
//
// # The Machine in one table (RFC 5798 §6.4, keepalived where noted)
//
//	state   event                              actions, in order                         next
//	INIT    Startup, priority 255              SendAdvert, AddVIPs, Announce, Transition MASTER
//	INIT    Startup                            Transition                                BACKUP (down = MDI;
//	                                                                                       `state MASTER`: MAI + min. skew)
//	INIT    Startup with a Fault in force      Transition                                FAULT (keepalived)
//	BACKUP  Timeout (Master_Down_Timer)        SendAdvert, AddVIPs, Announce, Transition MASTER
//	BACKUP  advert priority 0                  -                                         down = Skew_Time
//	BACKUP  advert >= ours, or nopreempt,
//	        or within preempt_delay            - (learn MAI in v3)                       down = MDI
//	BACKUP  advert < ours, preempting          - (discarded)                             timer keeps running
//	MASTER  Timeout (Adver_Timer)              SendAdvert                                adver = interval
//	MASTER  advert priority 0                  SendAdvert                                adver = interval
//	MASTER  advert higher (priority, address)  RemoveVIPs, Transition                    BACKUP, down = MDI
//	MASTER  advert lower (priority, address)   SendAdvert unless lower_prio_no_advert    adver = interval (keepalived)
//	MASTER  Shutdown                           SendAdvert(0), RemoveVIPs, Transition     INIT
//	MASTER  Fault                              SendAdvert(0), RemoveVIPs, Transition     FAULT (keepalived)
//	BACKUP  Shutdown / Fault                   Transition                                INIT / FAULT
//	FAULT   FaultCleared                       Transition (owner: as Startup owner)      BACKUP, down = MDI
//	MASTER  ForceBackup                        RemoveVIPs, Transition                    BACKUP (sync group)
//	BACKUP  ForceMaster                        SendAdvert, AddVIPs, Announce, Transition MASTER (sync group)
//	MASTER  VIPRemoved                         SendAdvert(0), RemoveVIPs, Transition     BACKUP, down = Skew_Time (keepalived)
//	MASTER  Release                            SendAdvert(0), RemoveVIPs, Transition     BACKUP, down = MDI (vigilctl demote)
//	BACKUP  Timeout, Config.SyncGroup          RequestMaster                             BACKUP, down = MDI, WantsMaster
//	BACKUP  Timeout, Hold vetoes it            (none)                                    BACKUP, down = MDI, Starved if nothing heard
//
// MDI is Master_Down_Interval = DownTimerAdverts (3) × Master_Adver_Interval +
// Skew_Time, Skew_Time = (256 − Priority) × Master_Adver_Interval / 256 (v2:
// (256 − Priority) / 256 s). A Transition is always the last action of its
// Handle call. Every action carries a Reason. The priority-0 advert on Fault
// is keepalived's courtesy to the backups; when the fault is a dead link the
// send fails, and the daemon counts that and carries on.
//
// keepalived's preempt_delay, exactly: a backup that hears a lower-priority
// master starts the delay and keeps accepting that master's adverts until the
// delay has run out (an advert at the very instant it runs out is already
// discarded); from then on it discards them and its Master_Down_Timer, last
// reset by the last accepted advert, makes it master. Hearing a master at
// least as strong stops the delay.
//
// Sync groups (keepalived's vrrp_sync_group) are a pure core of their own,
// SyncGroup (syncgroup.go): members have Config.SyncGroup, so an expired
// Master_Down_Timer returns RequestMaster instead of a takeover; the caller
// feeds that, and every member Transition, to the group's Handle, which
// returns the member events to deliver (ForceMaster to each once every
// member WantsMaster; ForceBackup to the other masters when one leaves
// MASTER; VIPRemoved to every master of the group) and the group
// notifications, in keepalived's order. It reads its members' states and
// never calls them: the caller runs a plain work queue, so nothing is
// re-entrant. Culprit names the member whose fault faults the group.
//
// Not in the Machine: keepalived's "rogue owner" back-off when two routers
// both claim priority 255 (here the higher address simply wins, as in the
// RFC).
//
// # Concurrency
//
// A Machine or SyncGroup is owned by the daemon loop and is not safe for
// concurrent use; neither starts goroutines or holds timers. The loop calls
// Handle(Timeout{}, now) when Deadline is reached. Conn is safe for one reader
// and concurrent writers (see its own documentation).
package vrrp

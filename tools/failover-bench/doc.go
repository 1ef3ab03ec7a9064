// Command failover-bench measures how fast a VRRP backup takes over, for
// vigild and for Debian's keepalived 2.2.7 side by side, and what running
// many instances costs in CPU and memory. It prints figures; it asserts
// nothing.
//
//	go run ./tools/failover-bench            # full run, about 8 minutes
//	go run ./tools/failover-bench -svg docs/perf/scale.svg
//	go run ./tools/failover-bench -quick     # smoke run: 1 trial, advert_int 0.1 s, scale 1 and 4
//	go run ./tools/failover-bench -impl vigild -n 3 -intervals 0.1,0.01
//
// It must run as root. It builds vigild itself as the package ships it
// (CGO_ENABLED=0, -trimpath, -ldflags='-s -w', into a temporary directory,
// unless -vigild names a binary), then builds the router pair of
// testnet/harness: a switch, routers r1 (priority 150, state MASTER) and r2
// (priority 100, BACKUP) and a client, on 192.0.2.0/24 and 2001:db8:1::/64,
// running one IPv4 and one IPv6 instance (VRID 51) with the same
// keepalived.conf text for both implementations. -global adds lines to
// that text's global_defs, for both (e.g. -global "vrrp_priority -10").
//
// # Failover
//
// For each advert interval it builds one such lab per implementation and
// runs N trials of each scenario, alternating between the implementations
// trial by trial so that both meet the same periods of machine load (the
// lab that waits keeps exchanging adverts):
//
//   - cut: r1's switch port goes down (r1 loses carrier);
//   - kill+cut: r1's daemon is SIGKILLed, then its port goes down;
//   - sigterm: r1's daemon is sent SIGTERM (it sends priority 0 and leaves);
//   - busy+cut: a shell spinning at the default priority is started on
//     each CPU (a loaded machine, where a woken thread finds no idle CPU),
//     then r1's port goes down; the spinners stop once the trial has seen
//     the takeover.
//
// Each trial measures from the old master's last advert, as captured at the
// client (for sigterm: its priority-0 advert), to
//
//	(a) the IPv4 VIP appearing on r2 (a netlink address subscription inside
//	    r2's namespace, stamped with time.Now on receipt),
//	(b) the first gratuitous ARP for the IPv4 VIP from r2 at the client,
//	(c) the first unsolicited NA for the IPv6 VIP from r2 at the client,
//
// with kernel timestamps from a tcpdump capture on the client's interface.
// (a) and (b) count from the IPv4 instance's last advert, (c) from the IPv6
// instance's, since each instance keeps its own timers. The table shows
// median / min / max next to the RFC 5798 §6.4.2 limit: Master_Down_Interval
// = 3 × Advertisement_Interval + Skew_Time for the backup's priority, and
// Skew_Time alone for sigterm (§6.4.2, priority 0), and the ratio
// vigild/keepalived of the medians.
//
// # Timeline
//
// vigild logs at debug level (-D, which the bench passes) one line per
// timer-driven takeover with its own points: the timer's deadline (Unix
// ns), then in µs after it the timer's wake-up, the loop's run, the netlink
// address addition sent and acknowledged, and the first GARP/NA round
// handed to the sockets. The TIMELINE table sets the IPv4 instance's
// points, medians over the trials, beside the capture's first GARP and
// first advert from r2 and the netlink subscription's VIP, all in µs after
// the RFC deadline (the old master's last advert at the client plus the
// limit). keepalived shows only the wire's and the subscription's points.
//
// # Load
//
// With 50 IPv4 instances (VRIDs 1..50, advert_int 0.1 s; masters on r1,
// backups on r2) it reads the run time of every thread
// (/proc/PID/task/TID/schedstat, in ns) over a window (10 s; -window) and
// divides by the frames r1's eth0 sent in that window and r2's eth0
// received (the interfaces' own counters; in the steady state the adverts
// are all the traffic): CPU per advert sent (r1) and per advert received
// (r2). No capture runs in that window: tcpdump is woken for every frame,
// inside the sender's system call, which costs the sender up to 8 µs more per
// advert depending on how it sends, and it drops frames on a busy
// machine. A second window as long runs tcpdump on r1's and r2's eth0:
// the CPU with the captures, the adverts they saw against the counters'
// frames (the check that the counters counted adverts), and, for the
// scale curve, the intervals. utime+stime from /proc/PID/stat (10 ms
// ticks, about 2 µs per advert over 10 s) is printed beside it. The two
// implementations run one after the other, each in a lab of its own, and
// then the two floors (-load-floor): the bare program of
// tools/failover-bench/bare, built as vigild is, sending the same adverts
// on r1 with vigil's socket code and a ticker and reading them on r2 with
// ReadBatch, nothing else: what the Go runtime and the kernel cost; and
// the C program cfloor/cfloor.c (embedded, compiled with $CC or cc), a
// single thread that sends them on an absolute clock or reads them with a
// blocking epoll_wait and recvmmsg: what the kernel costs any program,
// the physical floor of both CPU columns.
// `-scenarios none` runs this part alone. It prints VmHWM and VmRSS from
// /proc/PID/status. For keepalived the figures are the sum of every process
// in its process group (the parent and the VRRP child, started with -P), and
// the table says so.
//
// # Scale
//
// For each instance count of -scale (default 1,16,64,128,255; VIPs from
// 192.0.2.151 and 198.51.100.1 on), both implementations in turn run that
// many instances at advert_int 0.01 s in a lab of their own for
// -scale-window: CPU per second of r1 and r2, the error of every interval
// between one instance's adverts where they leave r1 (r1's capture, which
// stamps a frame inside the sender's system call; median and p99;
// intervals over 1.5 advert_int count as gaps), how many of the counted
// frames each capture holds, the backups' own adverts (takeovers caused
// by late adverts) and r2's RSS. -svg writes the curve (CPU of
// both routers and the p99 error against the count) as an SVG file.
//
// # Floor
//
// FLOOR samples (-floor, default 300) how late a sleeper wakes after 2 ms
// on this machine now: a timerfd read on a thread of its own, vigild's
// shape (timerfd through Go's poller, the woken goroutine doing the
// work), the same with a channel hop to a second goroutine (vigild's
// shape before), a Go timer. No takeover can beat the first row.
//
// # What it touches
//
// Only namespaces, veths and processes it creates through testnet (removed
// on exit, also on SIGINT), documentation addresses only. Owns nothing
// outside tools/failover-bench; it must not be imported.
//
// Concurrency: the lab is driven from the main goroutine; one goroutine
// reads the netlink address subscription and appends to a mutex-guarded
// event list.
package main

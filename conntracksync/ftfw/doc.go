// Package ftfw speaks conntrackd's FTFW state-synchronisation protocol (conntrack-tools
// 1.4.7, network.h message format version 1): a pure wire codec and a pure, loss-proof
// reliable channel.
//
// # What it owns
//
//   - The codec: the 8-byte message header, CTL messages (ACK, NACK, RESYNC with a
//     from/to range; ALIVE; HELLO and HELLO_BACK flags), conntrack entries as NTA
//     attribute TLVs with conntrackd's exact lengths, order and byte-order quirks,
//     expectations (EXP_NEW / EXP_UPD / EXP_DEL, Expect) as NTA_EXP_* TLVs likewise,
//     and several messages per datagram (Packer, Walk).
//   - Channel: sequence numbers, windowed ACK, NACK ranges, the resend queue, ALIVE,
//     the HELLO handshake and RESYNC, as a sans-I/O state machine that takes datagrams
//     and a time and returns datagrams to send and delivered updates (flows, and
//     expectations queued with SendExpect, reliable and collapsed per ExpKey alike).
//   - The rules that keep forged control messages from wedging a Channel: the receive
//     window and its recovery, the checks on ACK and NACK ranges, and the bulk gate
//     (bulkgate.go) that decides when the owner sends its whole table.
//
// # What it must not touch
//
// Sockets, netlink, the kernel's conntrack table, clocks and goroutines. The
// conntracksync package owns the caches, ctnetlink, the commit and the UDP transport and
// drives a Channel from its loop. This package imports neither net nor os nor syscall
// and never calls time.Now (pure_test.go checks it).
//
// # Wire format (all integers big-endian unless noted)
//
//	 0               1               2               3
//	+-------+-------+---------------+-------------------------------+
//	|version| type  |     flags     |            len                |
//	+-------+-------+---------------+-------------------------------+
//	|                              seq                              |
//	+---------------------------------------------------------------+
//	|  from (ACK / NACK / RESYNC only)                              |
//	+---------------------------------------------------------------+
//	|  to   (ACK / NACK / RESYNC only)                              |
//	+---------------------------------------------------------------+
//
// Data messages (type 0..2) carry attribute TLVs after the 8-byte header:
//
//	+-------------------------------+-------------------------------+
//	|   nta_len (4 + payload len)   |           nta_attr            |
//	+-------------------------------+-------------------------------+
//	|  payload, zero-padded to a multiple of 4                      |
//	+---------------------------------------------------------------+
//
// Quirks reproduced for interoperation with x86 conntrackd: SPAT_PORT, DPAT_PORT,
// ICMP_ID and also SCTP_VTAG_ORIG / SCTP_VTAG_REPL go out little-endian (conntrackd
// converts a value that libnetfilter_conntrack already holds in network order once
// more). SNAT_IPV4 / DNAT_IPV4 are in network order. All of these were checked
// against the capture in testdata/conntrackd-1.4.7.hex.
//
// # Where Channel differs from conntrackd (wire-compatible, but loss-proof)
//
//   - No data is sent before the peer has answered our HELLO with HELLO_BACK, so no
//     data message ever carries HELLO (conntrackd skips gap detection for those).
//   - HELLO_BACK answers every HELLO (except one that would start a new session less
//     than a second after the last, see Forged messages), and rides on every message
//     we send until the peer's messages stop carrying HELLO (conntrackd sets it on one
//     message only).
//   - An ACK never spans a gap: after a gap the receiver acknowledges what it has and
//     opens a new window at the message after the gap.
//   - A peer HELLO never discards unacknowledged data: it is queued again, and a bulk
//     is requested (EventPeerSession, then EventSendBulk).
//   - A bulk (SendBulk) is encoded once into byte chunks already cut into datagrams,
//     with no per-Key state; the first send stamps seq and flags in place and hands the
//     datagrams on without a copy. Each message still has its own seq and resend-queue
//     item. A retransmission resends the same bytes unless a later Send of its Key
//     superseded it (conntrackd re-encodes from the current cache object).
//   - Send encodes the message when it is queued and keeps only those bytes (and the
//     Key) until the peer acknowledges it; a retransmission sends the Key's latest
//     update. A Key's entry is found by the Key's hash, seeded per Channel, with the
//     Keys that hash alike chained (TestCollidingKeysBehaveAlike). The resend queue
//     holds 24 bytes without pointers per message, so the memory in flight follows
//     the messages' size (TestInFlightMemoryPerMessage). It
//     lies in fixed segments that are never copied; a segment emptied at its front is
//     reused at its back, so a bulk acknowledged as it goes out cycles through the
//     memory of its unacknowledged window (TestResendQueueFollowsTheWindow).
//   - NACKs are repeated on a timer (NackRetry doubling up to 2 s, NackRetries times),
//     all in one round so that a lost round opens one gap at the peer, not one per
//     NACK; gaps are merged, never forgotten.
//   - The sender also infers loss: a message still unacknowledged RetransmitAfter after
//     the peer acknowledged a later one can never be accepted (receivers drop late
//     messages), so it is sent again.
//   - Tail loss: ProbeDelay after sending data the sender sends an ALIVE probe while
//     anything is unacknowledged (doubling up to AliveInterval); the receiver answers a
//     probe with an ACK, and the probe's seq exposes any gap at once.
//   - A receiver acknowledges AckDelay after the first unacknowledged message instead
//     of waiting up to a second for the ALIVE timer.
//   - A new peer session (first contact or restart) makes us send RESYNC so that our
//     copy of the peer's table is complete, and a RESYNC is itself retransmitted until
//     acknowledged.
//   - The resend queue is never trimmed: when it is full, new data waits in the
//     transmit queue (collapsed per flow key) instead.
//   - The first seq is random (crypto/rand), not the Unix time: conntrackd accepts any
//     first seq, and a guessable one makes forging in-window messages easy.
//
// # Forged messages
//
// FTFW has no authentication: anyone who can send datagrams with the peer's source
// address can send control messages. conntrackd takes any seq after the expected one
// as a gap, so one forged message with a later seq makes it drop all of the real peer's
// messages as late until the peer restarts; every RESYNC makes it queue its whole
// table; an ACK range is honoured whatever it names. A Channel instead:
//
//   - lets one message open a gap of at most 4096 messages; a message further ahead is
//     dropped (seq_jump) and does not move the window, unless a second datagram
//     continues it within 131072 (real loss of more than 240 full datagrams);
//   - watches messages outside the window (late or too far ahead): when they form a
//     stream of their own (consecutive seqs, in two or more datagrams) while no
//     message arrived in order for 2 s, the window moves to that stream and a RESYNC
//     asks for what was dropped meanwhile (Stats.Desyncs). A forged jump thus costs
//     the real peer about 2 s of delay, not the session, and gaps opened by forged
//     messages do not hold the desync off;
//   - drops an ACK or NACK whose range ends past the last seq it sent, or starts after
//     it ends (bad_range), so an ACK of seqs never sent frees nothing; and one ACK or
//     NACK visits at most 8192 resend-queue items (more only with a larger ACK window;
//     a NACK of more is served in parts by its repeats and by the inferred-loss timer);
//   - serves bulk requests through a gate: at most one bulk in flight (queued or
//     unacknowledged), any number of requests meanwhile served by one more bulk after
//     it, bulks asked for by the peer at least MinBulkInterval (1 s) apart. The owner
//     sends a bulk on EventSendBulk only; EventPeerSession and EventResyncRequested
//     only inform;
//   - takes a HELLO for a new peer session at most once a second: a HELLO flood does
//     not restart the session at every message (a real restarted peer keeps saying
//     HELLO until answered, and is taken after the holdoff).
//
// Every dropped or ignored message is counted (Stats.Drops, SessionHoldoffs), never
// logged. What remains possible without authentication: an attacker that sees the
// traffic can forge in-window messages as fast as the peer sends, inject or delete
// entries, and acknowledge data the peer never got; only an authenticated transport
// prevents that.
//
// # Timing (defaults)
//
// HELLO every 250 ms until answered; ACK at most 20 ms after data (or after 300
// messages); tail loss found by an ALIVE probe 100 ms after the last data (then 200,
// 400, ... up to 1 s) plus one round trip; a NACKed message is resent in the next
// Outbox; a message skipped by the peer's ACKs is resent after 1.5 s; ALIVE after 1 s
// of silence, or an ACK if something is unacknowledged, like conntrackd.
//
// # Known limits
//
//   - FTFW has no end-of-bulk marker, so a bulk cannot tell the receiver which of its
//     entries the sender no longer has: a DEL lost for good (only possible with a
//     conntrackd sender after all NACK repeats are lost) leaves a stale entry until the
//     next flush of the external cache.
//   - A duplicated datagram carrying HELLO with an old seq is taken for a new peer
//     session: harmless (unacknowledged data is resent and a bulk is asked for), but
//     costly.
//   - A conntrackd peer that restarts before its own HELLO was answered, with a higher
//     seq than expected, is taken for the same session; a vigil peer asks for RESYNC at
//     every session start, so it is not affected.
//   - A peer that restarts less than a second after its previous session started waits
//     out the rest of that second (its HELLOs are not answered meanwhile).
//   - A real gap of more than 4096 lost messages waits for the next datagram; one of
//     more than 131072 is repaired through the desync path (about 2 s, then a RESYNC)
//     rather than by NACK.
//
// # Concurrency
//
// None. A Channel is owned by one goroutine (the replicator's loop); Packer and the
// codec functions are safe for concurrent use on distinct values.
package ftfw

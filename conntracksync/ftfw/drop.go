package ftfw

import (
	"errors"
	"fmt"
)

// DropReason says why a datagram or message was not (fully) used. The replicator counts
// drops by reason; they are data, not errors.
type DropReason uint8

// Drop reasons.
const (
	DropNone      DropReason = iota
	DropShort                // fewer bytes than a header
	DropVersion              // version is not 1
	DropLength               // len is 0, < 8, < 16 for ACK/NACK/RESYNC, or past the datagram end
	DropType                 // unknown message type
	DropFlags                // a data message with flags other than HELLO / HELLO_BACK
	DropPayload              // bad TLV: unknown attribute, wrong or too large length, overrun
	DropFlow                 // TLVs parse but do not make a usable flow (no address or protocol)
	DropStale                // seq earlier than expected: a duplicate or a late message
	DropNoSession            // a message from a peer before any session exists that cannot start one
	DropSeqJump              // seq further ahead of the expected one than any real gap (forged or a lost session)
	DropRange                // ACK or NACK range outside the seqs we sent (forged, or an answer to a forgery)
	dropReasonCount
)

// dropNames are snake_case, as every key of vigild's status document.
var dropNames = [...]string{"none", "short", "bad_version", "bad_length", "bad_type", "bad_flags", "bad_payload", "bad_flow", "stale_seq", "no_session", "seq_jump", "bad_range"}

func (r DropReason) String() string {
	if int(r) < len(dropNames) {
		return dropNames[r]
	}
	return fmt.Sprintf("drop(%d)", uint8(r))
}

// ErrTooLong is returned when an encoded message would not fit its 16-bit length or the
// datagram size.
var ErrTooLong = errors.New("message too long")

// Error is a decode failure with the reason a receiver counts.
type Error struct {
	Reason DropReason
	Detail string
}

func (e *Error) Error() string { return "ftfw: " + e.Reason.String() + ": " + e.Detail }

func dropf(r DropReason, format string, args ...any) error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the DropReason inside err, DropNone for nil and DropPayload for any
// other error.
func ReasonOf(err error) DropReason {
	if err == nil {
		return DropNone
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return DropPayload
}

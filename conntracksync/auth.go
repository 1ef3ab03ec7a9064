package conntracksync

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"

	"golang.org/x/crypto/chacha20poly1305"
)

// The authenticated sync channel (auth_key_file): every datagram between two
// vigil nodes is sealed with XChaCha20-Poly1305 under a key derived from the
// pre-shared key. conntrackd has no such envelope: a keyed node only talks to
// another keyed vigil node.
//
// Envelope (integers big-endian):
//
//	 0               1               2               3
//	+---------------+---------------+---------------+---------------+
//	|      'V'      |      'G'      |      'S'      |  version = 1  |
//	+---------------+---------------+---------------+---------------+
//	|  session: the sender's, random, fixed for one Run (8 bytes)   |
//	+---------------------------------------------------------------+
//	|  counter: 1, 2, 3, ... per session (8 bytes)                  |
//	+---------------------------------------------------------------+
//	|  challenge: the sender's current challenge (8 bytes)          |
//	+---------------------------------------------------------------+
//	|  echo: the receiver's challenge as last seen (8 bytes)        |
//	+---------------------------------------------------------------+
//	|  the FTFW datagram, encrypted ...                             |
//	+---------------------------------------------------------------+
//	|  Poly1305 tag (16 bytes)                                      |
//	+---------------------------------------------------------------+
//
// The 36-byte header is the associated data; the nonce is session ‖ counter ‖
// 8 zero bytes. Each direction has its own key, HKDF-SHA256 of the pre-shared
// key with the channel's label (FTFW, or the arbiter's heartbeat) and the
// sender's and the receiver's address, so a datagram reflected back to its
// sender, or moved to the other channel, does not open.
//
// Replay. A receiver delivers a datagram only when
//
//   - its (session, counter) is new: a sliding window of authWindow counters
//     per peer session;
//   - its session was never replaced: the last authRetired sessions that were
//     replaced by a newer one are remembered and refused;
//   - it echoes the receiver's current challenge, or, for the current peer
//     session only, the challenge under which that session was accepted.
//
// A challenge is random and changes every time the receiver accepts a new
// peer session, and a restarted receiver starts with a new one. So datagrams
// captured before a restart of either side cannot be delivered again: they
// echo a challenge that no longer opens anything, whatever the size of the
// retired list. A new peer session is accepted only once it echoes our
// challenge: the first datagrams of each side are dropped (counted as
// auth_unconfirmed) until each has seen one from the other, which FTFW's
// HELLO, repeated every 250 ms, takes care of.

// AuthKeySize is the size of the pre-shared key of auth_key_file.
const AuthKeySize = 32

// Envelope sizes.
const (
	authHeaderLen = 36
	authTagLen    = chacha20poly1305.Overhead
	// AuthOverhead is what the envelope adds to each FTFW datagram.
	AuthOverhead = authHeaderLen + authTagLen
	authVersion  = 1
	// authWindow is how many counters below the highest one received a
	// datagram may still arrive (out of order) and be accepted.
	authWindow = 1024
	// authRetired is how many replaced peer sessions are remembered.
	authRetired = 16
)

var authMagic = [3]byte{'V', 'G', 'S'}

// AuthKey is the pre-shared key of the sync channel. It prints as
// "[redacted]".
type AuthKey [AuthKeySize]byte

func (AuthKey) String() string   { return "[redacted]" }
func (AuthKey) GoString() string { return "[redacted]" }

// ErrAuthKey is wrapped by every error about the key or its file.
var ErrAuthKey = errors.New("conntracksync: bad auth_key_file")

// ParseAuthKey reads the key file's content: 64 hexadecimal digits (32
// bytes), with optional surrounding white space (a trailing newline).
func ParseAuthKey(b []byte) (AuthKey, error) {
	var k AuthKey
	s := trimSpace(b)
	if len(s) != 2*AuthKeySize {
		return k, fmt.Errorf("%w: want %d hexadecimal digits (%d random bytes), found %d characters", ErrAuthKey, 2*AuthKeySize, AuthKeySize, len(s))
	}
	if _, err := hex.Decode(k[:], s); err != nil {
		return AuthKey{}, fmt.Errorf("%w: not hexadecimal: %v", ErrAuthKey, err)
	}
	var zero AuthKey
	if k == zero {
		return AuthKey{}, fmt.Errorf("%w: the key is all zeros", ErrAuthKey)
	}
	return k, nil
}

func trimSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// authVerdict is what the opener decided about one datagram.
type authVerdict uint8

const (
	authOK authVerdict = iota
	// authMalformed: too short, or not our magic and version (a conntrackd
	// peer, or a vigil peer without auth_key_file).
	authMalformed
	// authForged: the tag does not verify (wrong key, forged or corrupt).
	authForged
	// authReplayed: a (session, counter) already delivered, or too old for
	// the window.
	authReplayed
	// authStaleSession: a peer session that a newer one replaced.
	authStaleSession
	// authUnconfirmed: authentic, but does not echo our challenge: sent
	// before the peer heard from this run of ours (the handshake), or a
	// replay from before a restart.
	authUnconfirmed
	numAuthVerdicts
)

var authVerdictNames = [numAuthVerdicts]string{"", "auth_malformed", "auth_failed", "auth_replayed", "auth_stale_session", "auth_unconfirmed"}

func (v authVerdict) String() string { return authVerdictNames[v] }

// refused reports whether v counts as an authentication failure (Stats.AuthDrops):
// everything but delivery and the handshake's unconfirmed datagrams.
func (v authVerdict) refused() bool { return v != authOK && v != authUnconfirmed }

// authLink seals and opens the datagrams of one run of the sync link.
//
// Concurrency: seal is called by one goroutine (the replicator's loop),
// open by another (the reader); they share only the two atomics.
type authLink struct {
	sealer, opener cipher.AEAD
	newID          func() uint64 // random, never 0

	// challenge is ours: written by open (on a new peer session), read by
	// seal. echo is the peer's challenge to echo, written by open.
	challenge, echo atomic.Uint64

	// Sending side.
	session uint64
	counter uint64
	sHdr    [authHeaderLen]byte
	sNonce  [chacha20poly1305.NonceSizeX]byte

	// Receiving side.
	rNonce  [chacha20poly1305.NonceSizeX]byte
	peer    uint64 // current peer session, 0 = none yet
	peerVia uint64 // the challenge it echoed when accepted
	window  replayWindow
	retired [authRetired]uint64
	nextRet int
}

// HKDF labels: each use of the pre-shared key derives keys of its own, so
// a datagram of one channel never opens on the other.
const (
	authLabelFTFW      = "vigil conntrack sync v1 "
	authLabelHeartbeat = "vigil arbiter heartbeat v1 "
)

// newAuthLink derives the two directional keys of the FTFW channel from key
// and the addresses, and starts a session. newID must return random
// non-zero values (crypto/rand in the shell).
func newAuthLink(key AuthKey, local, peer netip.Addr, newID func() uint64) (*authLink, error) {
	return newAuthLinkLabel(authLabelFTFW, key, local, peer, newID)
}

// newAuthLinkLabel is newAuthLink for the channel whose HKDF label is label.
func newAuthLinkLabel(label string, key AuthKey, local, peer netip.Addr, newID func() uint64) (*authLink, error) {
	sk, err := directionKey(label, key, local, peer)
	if err != nil {
		return nil, err
	}
	ok, err := directionKey(label, key, peer, local)
	if err != nil {
		return nil, err
	}
	a := &authLink{newID: newID, session: newID()}
	if a.sealer, err = chacha20poly1305.NewX(sk); err != nil {
		return nil, err
	}
	if a.opener, err = chacha20poly1305.NewX(ok); err != nil {
		return nil, err
	}
	a.challenge.Store(newID())
	return a, nil
}

func directionKey(label string, key AuthKey, from, to netip.Addr) ([]byte, error) {
	f, t := from.Unmap().As16(), to.Unmap().As16()
	info := label + string(f[:]) + string(t[:])
	return hkdf.Key(sha256.New, key[:], nil, info, chacha20poly1305.KeySize)
}

var errAuthExhausted = errors.New("conntracksync: sync session counter exhausted")

// seal appends the envelope of payload to dst and returns it. It fails only
// after 2^64-1 datagrams of one session.
func (a *authLink) seal(dst, payload []byte) ([]byte, error) {
	if a.counter == ^uint64(0) {
		return dst, errAuthExhausted
	}
	a.counter++
	h := a.sHdr[:]
	copy(h, authMagic[:])
	h[3] = authVersion
	binary.BigEndian.PutUint64(h[4:], a.session)
	binary.BigEndian.PutUint64(h[12:], a.counter)
	binary.BigEndian.PutUint64(h[20:], a.challenge.Load())
	binary.BigEndian.PutUint64(h[28:], a.echo.Load())
	copy(a.sNonce[:16], h[4:20])
	dst = append(dst, h...)
	return a.sealer.Seal(dst, a.sNonce[:], payload, h), nil
}

// open checks and decrypts one datagram in place; the FTFW datagram it
// returns aliases d. Nothing changes unless the tag verifies.
func (a *authLink) open(d []byte) ([]byte, authVerdict) {
	if len(d) < AuthOverhead || d[0] != authMagic[0] || d[1] != authMagic[1] || d[2] != authMagic[2] || d[3] != authVersion {
		return nil, authMalformed
	}
	session := binary.BigEndian.Uint64(d[4:])
	counter := binary.BigEndian.Uint64(d[12:])
	theirs := binary.BigEndian.Uint64(d[20:])
	echo := binary.BigEndian.Uint64(d[28:])
	copy(a.rNonce[:16], d[4:20])
	ct := d[authHeaderLen:]
	pt, err := a.opener.Open(ct[:0], a.rNonce[:], ct, d[:authHeaderLen])
	if err != nil {
		return nil, authForged
	}
	if session == 0 || counter == 0 {
		return nil, authMalformed // never sealed by us
	}
	for _, s := range a.retired {
		if s == session {
			return nil, authStaleSession
		}
	}
	ours := a.challenge.Load()
	if a.peer != 0 && session == a.peer {
		if echo != ours && echo != a.peerVia {
			return nil, authUnconfirmed
		}
		if !a.window.fresh(counter) {
			return nil, authReplayed
		}
		if a.window.mark(counter) {
			a.echo.Store(theirs)
		}
		return pt, authOK
	}
	if echo != ours {
		if a.peer == 0 {
			// Bootstrap: echo this challenge so that the peer can accept us.
			a.echo.Store(theirs)
		}
		return nil, authUnconfirmed
	}
	// A new peer session that has seen our current challenge: first contact
	// or a restart of the peer.
	if a.peer != 0 {
		a.retired[a.nextRet] = a.peer
		a.nextRet = (a.nextRet + 1) % authRetired
	}
	a.peer, a.peerVia = session, ours
	a.window = replayWindow{}
	a.window.mark(counter)
	a.challenge.Store(a.newID())
	a.echo.Store(theirs)
	return pt, authOK
}

// replayWindow remembers which of the last authWindow counters were
// delivered.
type replayWindow struct {
	top  uint64 // highest counter delivered
	bits [authWindow / 64]uint64
}

// fresh reports whether c was not delivered yet and is not too old.
func (w *replayWindow) fresh(c uint64) bool {
	switch {
	case c > w.top:
		return true
	case w.top-c >= authWindow:
		return false
	}
	i := c % authWindow
	return w.bits[i/64]&(1<<(i%64)) == 0
}

// mark records c as delivered and reports whether it is the new highest.
func (w *replayWindow) mark(c uint64) bool {
	top := c > w.top
	if top {
		if c-w.top >= authWindow {
			w.bits = [authWindow / 64]uint64{}
		} else {
			for x := w.top + 1; x < c; x++ {
				i := x % authWindow
				w.bits[i/64] &^= 1 << (i % 64)
			}
		}
		w.top = c
	}
	i := c % authWindow
	w.bits[i/64] |= 1 << (i % 64)
	return top
}

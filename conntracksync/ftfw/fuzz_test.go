package ftfw

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

func addGoldenSeeds(f *testing.F) {
	f.Add(unhex(f, noteICMP))
	for _, d := range readGolden(f, goldenFile) {
		f.Add(d.data)
		Walk(d.data, func(b []byte) bool { f.Add(append([]byte(nil), b...)); return true })
	}
	m := Message{Type: TypeUpd, Flow: allAttrs()}
	b, _ := m.AppendBinary(nil)
	f.Add(b)
}

// FuzzMessageRoundTrip: whatever decodes re-encodes to bytes that decode to the same
// message and re-encode identically (AppendBinary is the inverse of UnmarshalBinary on
// its image), and never panics.
func FuzzMessageRoundTrip(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			if ReasonOf(err) == DropNone {
				t.Fatalf("error without reason: %v", err)
			}
			return
		}
		y, err := m.AppendBinary(nil)
		if err != nil {
			return // e.g. a flow without addresses: decodable, not encodable
		}
		if len(y) != m.Len() {
			t.Fatalf("Len %d, encoded %d", m.Len(), len(y))
		}
		var m2 Message
		if err := m2.UnmarshalBinary(y); err != nil {
			t.Fatalf("re-decode: %v\n%x", err, y)
		}
		z, err := m2.AppendBinary(nil)
		if err != nil || !bytes.Equal(y, z) {
			t.Fatalf("not idempotent: %v\n%x\n%x", err, y, z)
		}
		var m3 Message
		if err := m3.UnmarshalBinary(z); err != nil || !reflect.DeepEqual(m2, m3) {
			t.Fatalf("decode mismatch %v\n%+v\n%+v", err, m2, m3)
		}
	})
}

// FuzzWalk: Walk hands out in-bounds messages that tile a prefix of the datagram.
func FuzzWalk(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		Walk(b, func(m []byte) bool {
			if len(m) < HeaderLen || !bytes.Equal(m, b[total:total+len(m)]) {
				t.Fatalf("bad message slice at %d", total)
			}
			total += len(m)
			return true
		})
		if total > len(b) {
			t.Fatalf("walked %d of %d bytes", total, len(b))
		}
	})
}

// FuzzChannelReceive: arbitrary datagrams never panic a Channel, and what it sends
// back always decodes.
func FuzzChannelReceive(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		now := time.Unix(1000, 0)
		c := NewChannel(Config{InitialSeq: 1000}, now) // deterministic, unlike a random seq
		fl := allAttrs()
		if err := c.Send(OpNew, &fl); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			now = now.Add(time.Duration(i) * 300 * time.Millisecond)
			c.Receive(b, now)
			c.Updates()
			c.Events()
			for _, d := range c.Outbox(now) {
				if n, r := Walk(d, func(m []byte) bool {
					var msg Message
					if err := msg.UnmarshalBinary(m); err != nil {
						t.Fatalf("we sent an undecodable message: %v\n%x", err, m)
					}
					return true
				}); n == 0 || r != DropNone {
					t.Fatalf("we sent a bad datagram %x", d)
				}
			}
			if s := c.Stats(); s.Unacked < 0 || s.Queued < 0 {
				t.Fatalf("stats %+v", s)
			}
		}
	})
}

package vrrp_test

import (
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// BenchmarkHandleAdvert measures the Machine's share of the CPU per advert:
// "receive" is a backup accepting its master's advert (the common receive
// path), "send" is a master's Adver_Timer firing (the send path), and
// "answer-lower" a master answering a lower-priority advert.
func BenchmarkHandleAdvert(b *testing.B) {
	b.Run("receive", func(b *testing.B) {
		m := vrrp.NewMachine(mCfg3(100, "192.0.2.1"))
		m.Handle(vrrp.Startup{}, mT0)
		ev := vrrp.AdvertReceived{Priority: 200, MaxAdvertInterval: 100 * time.Millisecond, Src: mAddr("192.0.2.2")}
		now := mT0
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(100 * time.Millisecond)
			if acts := m.Handle(ev, now); len(acts) != 0 {
				b.Fatalf("unexpected actions %v", acts)
			}
		}
		if m.State() != vrrp.StateBackup {
			b.Fatalf("state %v", m.State())
		}
	})
	b.Run("send", func(b *testing.B) {
		m := vrrp.NewMachine(withCfg(mCfg3(255, "192.0.2.1"), func(c *vrrp.Config) { c.AdvertInterval = 100 * time.Millisecond }))
		m.Handle(vrrp.Startup{}, mT0)
		b.ReportAllocs()
		for b.Loop() {
			dl, _ := m.Deadline()
			if acts := m.Handle(vrrp.Timeout{}, dl); len(acts) != 1 {
				b.Fatalf("actions %v", acts)
			}
		}
	})
	b.Run("answer-lower", func(b *testing.B) {
		m := vrrp.NewMachine(mCfg3(255, "192.0.2.1"))
		m.Handle(vrrp.Startup{}, mT0)
		ev := vrrp.AdvertReceived{Priority: 100, MaxAdvertInterval: time.Second, Src: mAddr("192.0.2.2")}
		now := mT0
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(time.Millisecond)
			if acts := m.Handle(ev, now); len(acts) != 1 {
				b.Fatalf("actions %v", acts)
			}
		}
	})
}

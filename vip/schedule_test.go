package vip

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(ds ...int) []time.Time {
		var out []time.Time
		for _, d := range ds {
			out = append(out, t0.Add(time.Duration(d)*time.Millisecond))
		}
		return out
	}
	tests := []struct {
		name string
		cfg  GARPConfig
		want []time.Time
	}{
		{"keepalived defaults: 5 now, 5 after 5 s", GARPConfig{Repeat: 5, Delay: 5 * time.Second},
			ms(0, 0, 0, 0, 0, 5000, 5000, 5000, 5000, 5000)},
		{"repeat 1, no delay", GARPConfig{Repeat: 1}, ms(0)},
		{"repeat 0 sends nothing", GARPConfig{Repeat: 0, Delay: time.Second}, nil},
		{"negative repeat sends nothing", GARPConfig{Repeat: -3}, nil},
		{"interval spaces a burst", GARPConfig{Repeat: 3, Interval: 10 * time.Millisecond},
			ms(0, 10, 20)},
		{"interval in both bursts", GARPConfig{Repeat: 3, Interval: 10 * time.Millisecond, Delay: time.Second},
			ms(0, 10, 20, 1000, 1010, 1020)},
		{"overlapping bursts interleave", GARPConfig{Repeat: 3, Interval: 10 * time.Millisecond, Delay: 15 * time.Millisecond},
			ms(0, 10, 15, 20, 25, 35)},
		{"delay equal to a burst slot keeps both rounds", GARPConfig{Repeat: 2, Interval: 10 * time.Millisecond, Delay: 10 * time.Millisecond},
			ms(0, 10, 10, 20)},
		{"negative delay: no second burst", GARPConfig{Repeat: 2, Delay: -time.Second}, ms(0, 0)},
		{"negative interval counts as 0", GARPConfig{Repeat: 2, Interval: -time.Second}, ms(0, 0)},
		{"delay boundary 1ns", GARPConfig{Repeat: 1, Delay: time.Nanosecond},
			[]time.Time{t0, t0.Add(time.Nanosecond)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Schedule(t0, tt.cfg)
			if len(got) != len(tt.want) {
				t.Fatalf("Schedule(%+v) = %d times %v, want %d %v", tt.cfg, len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if !got[i].Equal(tt.want[i]) {
					t.Errorf("time[%d] = +%v, want +%v", i, got[i].Sub(t0), tt.want[i].Sub(t0))
				}
			}
		})
	}
}

func BenchmarkSchedule(b *testing.B) {
	now := time.Now()
	cfg := GARPConfig{Repeat: 5, Interval: 10 * time.Millisecond, Delay: 5 * time.Second}
	for b.Loop() {
		_ = Schedule(now, cfg)
	}
}

package config

import (
	"slices"
	"strings"
	"testing"
)

// TestTrackProcessQuorum: quorum and quorum_max keep keepalived 2.2.7's
// meaning. quorum_max is unlimited (-1) by default; quorum_max 0 means the
// process must not run and makes the quorum 0; each keyword is checked
// against the other as it comes, and the later one is ignored on a clash.
// The dump loads back to the same values.
func TestTrackProcessQuorum(t *testing.T) {
	for _, tc := range []struct {
		name        string
		body        string
		quorum, max int
		want        []string
	}{
		{"defaults", "", 1, -1, nil},
		{"both set", " quorum 2\n quorum_max 3\n", 2, 3, nil},
		{"quorum_max equal to quorum", " quorum 2\n quorum_max 2\n", 2, 2, nil},
		{"must not run", " quorum_max 0\n", 0, 0, nil},
		{"must not run after quorum 1", " quorum 1\n quorum_max 0\n", 0, 0, nil},
		{"quorum_max 0 then quorum 1", " quorum_max 0\n quorum 1\n", 0, 0,
			[]string{`warning t.conf:4:9: quorum: quorum 1 is greater than quorum_max 0 (ignored)`}},
		{"quorum_max below quorum", " quorum 3\n quorum_max 2\n", 3, -1,
			[]string{`warning t.conf:4:13: quorum_max: quorum_max 2 is less than quorum 3 (ignored)`}},
		{"quorum_max 0 below quorum 2", " quorum 2\n quorum_max 0\n", 2, -1,
			[]string{`warning t.conf:4:13: quorum_max: quorum_max 0 is less than quorum 2 (ignored)`}},
		{"quorum above quorum_max", " quorum_max 2\n quorum 3\n", 1, 2,
			[]string{`warning t.conf:4:9: quorum: quorum 3 is greater than quorum_max 2 (ignored)`}},
		{"quorum_max out of range", " quorum_max -1\n", 1, -1,
			[]string{`warning t.conf:3:13: quorum_max: "-1" is not a number in [0, 65535] (ignored)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := "vrrp_track_process p {\n process sshd\n" + tc.body + "}\n"
			cfg, complaints, _ := load(t, conf, testOpts())
			if !slices.Equal(complaints, tc.want) {
				t.Errorf("complaints:\n got %q\nwant %q", complaints, tc.want)
			}
			tp := cfg.TrackProcesses["p"]
			if tp == nil {
				t.Fatal("track process p is missing")
			}
			if tp.Quorum != tc.quorum || tp.QuorumMax != tc.max {
				t.Errorf("quorum %d, quorum_max %d; want %d, %d", tp.Quorum, tp.QuorumMax, tc.quorum, tc.max)
			}
			again, _, errs := load(t, string(Dump(cfg)), testOpts())
			for _, e := range errs {
				if e.Severity != Notice {
					t.Errorf("the dump draws a complaint: %v\n%s", e, Dump(cfg))
				}
			}
			if tp2 := again.TrackProcesses["p"]; tp2 == nil || tp2.Quorum != tp.Quorum || tp2.QuorumMax != tp.QuorumMax {
				t.Errorf("the dump loads back as %+v, want quorum %d, quorum_max %d\n%s", tp2, tp.Quorum, tp.QuorumMax, Dump(cfg))
			}
		})
	}
}

// TestTrackRefsResolve: track_file and track_process references to unknown
// trackers are dropped with a complaint naming the kind; known ones take
// the tracker's weight and reverse unless the reference sets its own.
func TestTrackRefsResolve(t *testing.T) {
	conf := "vrrp_track_file f {\n file /run/f\n weight 3 reverse\n}\nvrrp_track_process p {\n process sshd\n weight -7\n}\n" +
		instConf("    track_file {\n        f\n        nof\n    }\n    track_process {\n        p\n        nop\n    }\n")
	cfg, complaints, _ := load(t, conf, testOpts())
	want := []string{
		`warning t.conf:14:9: track_file: (VI_1) track file nof not found (ignored)`,
		`warning t.conf:18:9: track_process: (VI_1) track process nop not found (ignored)`,
	}
	if !slices.Equal(complaints, want) {
		t.Errorf("complaints:\n got %q\nwant %q", complaints, want)
	}
	x := cfg.Instances[0]
	if len(x.TrackFiles) != 1 || x.TrackFiles[0].Weight != 3 || !x.TrackFiles[0].Reverse {
		t.Errorf("track_file refs %+v, want f with weight 3 reverse", x.TrackFiles)
	}
	if len(x.TrackProcesses) != 1 || x.TrackProcesses[0].Weight != -7 || x.TrackProcesses[0].Reverse {
		t.Errorf("track_process refs %+v, want p with weight -7", x.TrackProcesses)
	}
}

// TestWeightedTracksDropped: an address owner (priority 255) ignores
// track_script and track_process references that carry a weight, each
// with a complaint; those without a weight stay.
func TestWeightedTracksDropped(t *testing.T) {
	conf := "vrrp_script s {\n script \"/bin/true\"\n}\nvrrp_track_process p {\n process sshd\n}\nvrrp_track_process q {\n process cron\n}\n" +
		instConf("    priority 255\n    track_script {\n        s weight 5\n    }\n    track_process {\n        p weight 3\n        q\n    }\n")
	cfg, complaints, _ := load(t, conf, testOpts())
	var warnings []string
	for _, c := range complaints {
		if strings.Contains(c, "with a weight") || strings.HasPrefix(c, "fatal") {
			warnings = append(warnings, c)
		}
	}
	want := []string{
		`warning t.conf:15:9: track_script: (VI_1) tracked script s with a weight is ignored in a address owner (not tracked)`,
		`warning t.conf:18:9: track_process: (VI_1) tracked process p with a weight is ignored in a address owner (not tracked)`,
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("complaints:\n got %q\nwant %q\n(all: %q)", warnings, want, complaints)
	}
	x := cfg.Instances[0]
	if len(x.TrackScripts) != 0 || len(x.TrackProcesses) != 1 || x.TrackProcesses[0].Name != "q" {
		t.Errorf("kept %+v and %+v, want only process q", x.TrackScripts, x.TrackProcesses)
	}
}

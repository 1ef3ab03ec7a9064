package notify

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestFIFOLine(t *testing.T) {
	for _, tc := range []struct {
		ev   Event
		want string
	}{
		{Event{Kind: KindInstance, Name: "VI_1", State: StateMaster, Priority: 100}, "INSTANCE \"VI_1\" MASTER 100\n"},
		{Event{Kind: KindInstance, Name: "VI_1", State: StateFault, Priority: 254}, "INSTANCE \"VI_1\" FAULT 254\n"},
		{Event{Kind: KindGroup, Name: "G1", State: StateBackup, Priority: 100}, "GROUP \"G1\" BACKUP 0\n"},
		{Event{Kind: KindInstance, Name: "outside net", State: StateMasterPriority, Priority: 80}, "INSTANCE \"outside net\" MASTER_PRIORITY 80\n"},
		{Event{Kind: KindInstance, Name: "VI_1", State: StateMasterRxLowerPri, Priority: 255}, "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 255\n"},
		{Event{Kind: KindInstance, Name: `we"ird`, State: StateStop, Priority: 1}, "INSTANCE \"we\"ird\" STOP 1\n"},
	} {
		if got := FIFOLine(tc.ev); got != tc.want {
			t.Errorf("FIFOLine(%+v) = %q, want %q", tc.ev, got, tc.want)
		}
	}
}

func TestParseFIFOLine(t *testing.T) {
	for _, line := range []string{
		"INSTANCE \"VI_1\" MASTER 100\n", "GROUP \"G1\" FAULT 0\n", "INSTANCE \"a b\" BACKUP_PRIORITY 7\n", "INSTANCE \"we\"ird\" STOP 1\n",
	} {
		ev, err := ParseFIFOLine(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got := FIFOLine(ev); got != line {
			t.Errorf("round trip %q -> %+v -> %q", line, ev, got)
		}
	}
	for _, bad := range []string{"", "INSTANCE", "HOST \"x\" MASTER 1", "INSTANCE VI_1 MASTER 100", "INSTANCE \"VI_1\" MASTER", "INSTANCE \"VI_1\" MASTER x", "INSTANCE \"VI_1\"MASTER 1", "INSTANCE \"VI_1\" MASTER 1 2"} {
		if _, err := ParseFIFOLine(bad); !errors.Is(err, ErrBadLine) {
			t.Errorf("ParseFIFOLine(%q) error %v, want ErrBadLine", bad, err)
		}
	}
}

// TestCommands is keepalived's choice of scripts per state: the state's
// own script as configured, then the generic one with TYPE NAME STATE PRIO
// appended; nothing for priority notices.
func TestCommands(t *testing.T) {
	c := func(a ...string) *Command { return &Command{Argv: a} }
	s := Scripts{Master: c("/m", "x y"), Backup: c("/b"), Fault: c("/f"), Stop: c("/s"), Deleted: c("/d"),
		MasterRxLowerPri: c("/rx"), Generic: c("/g", "arg")}
	argvs := func(ev Event) [][]string {
		var out [][]string
		for _, cmd := range Commands(s, ev) {
			out = append(out, cmd.Argv)
		}
		return out
	}
	for _, tc := range []struct {
		ev   Event
		want [][]string
	}{
		{Event{Kind: KindInstance, Name: "VI_1", State: StateMaster, Priority: 100}, [][]string{{"/m", "x y"}, {"/g", "arg", "INSTANCE", "VI_1", "MASTER", "100"}}},
		{Event{Kind: KindInstance, Name: "VI_1", State: StateBackup, Priority: 90}, [][]string{{"/b"}, {"/g", "arg", "INSTANCE", "VI_1", "BACKUP", "90"}}},
		{Event{Kind: KindInstance, Name: "VI_1", State: StateFault, Priority: 90}, [][]string{{"/f"}, {"/g", "arg", "INSTANCE", "VI_1", "FAULT", "90"}}},
		{Event{Kind: KindInstance, Name: "VI_1", State: StateStop, Priority: 90}, [][]string{{"/s"}, {"/g", "arg", "INSTANCE", "VI_1", "STOP", "90"}}},
		{Event{Kind: KindInstance, Name: "VI_1", State: StateDeleted, Priority: 90}, [][]string{{"/d"}, {"/g", "arg", "INSTANCE", "VI_1", "DELETED", "90"}}},
		{Event{Kind: KindGroup, Name: "G1", State: StateMaster, Priority: 100}, [][]string{{"/m", "x y"}, {"/g", "arg", "GROUP", "G1", "MASTER", "0"}}},
		{Event{Kind: KindInstance, Name: "VI_1", State: StateMasterRxLowerPri, Priority: 100}, [][]string{{"/rx"}}},
		{Event{Kind: KindInstance, Name: "VI_1", State: StateMasterPriority, Priority: 100}, nil},
		{Event{Kind: KindInstance, Name: "VI_1", State: StateBackupPriority, Priority: 100}, nil},
	} {
		if got := argvs(tc.ev); !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("%s %s: %q, want %q", tc.ev.Kind, tc.ev.State, got, tc.want)
		}
	}
	if s.Generic.Argv[len(s.Generic.Argv)-1] != "arg" {
		t.Errorf("Commands modified the configured generic argv: %q", s.Generic.Argv)
	}
	if got := Commands(Scripts{}, Event{Kind: KindInstance, State: StateMaster}); len(got) != 0 {
		t.Errorf("no scripts configured: %v", got)
	}
}

// FuzzParseFIFOLine: whatever parses is written back byte for byte (a
// group's priority is always written as 0).
func FuzzParseFIFOLine(f *testing.F) {
	for _, s := range []string{"INSTANCE \"VI_1\" MASTER 100\n", "GROUP \"G1\" FAULT 0", "INSTANCE \"a\"b\" STOP -1\n", "INSTANCE \"\" X 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		ev, err := ParseFIFOLine(line)
		if err != nil {
			return
		}
		want := strings.TrimSuffix(line, "\n") + "\n"
		if ev.Kind == KindGroup {
			ev.Priority = 0
			want = want[:strings.LastIndexByte(want, ' ')] + " 0\n"
		}
		if got := FIFOLine(ev); got != want {
			t.Fatalf("ParseFIFOLine(%q) = %+v, written back as %q", line, ev, got)
		}
	})
}

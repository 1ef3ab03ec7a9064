package check

import (
	"os/user"
	"strconv"
	"testing"
)

func TestLookupCredential(t *testing.T) {
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("SKIPPING: no user nobody: %v", err)
	}
	wantUID, _ := strconv.Atoi(u.Uid)
	wantGID, _ := strconv.Atoi(u.Gid)
	uid, gid, err := LookupCredential("nobody", "")
	if err != nil || uid != uint32(wantUID) || gid != uint32(wantGID) {
		t.Errorf("nobody: %d:%d %v, want %d:%d", uid, gid, err, wantUID, wantGID)
	}
	uid, gid, err = LookupCredential(u.Uid, "0")
	if err != nil || uid != uint32(wantUID) || gid != 0 {
		t.Errorf("numeric uid, group 0: %d:%d %v", uid, gid, err)
	}
	if _, _, err := LookupCredential("no-such-user-vigil", ""); err == nil {
		t.Error("unknown user accepted")
	}
	if _, _, err := LookupCredential("nobody", "no-such-group-vigil"); err == nil {
		t.Error("unknown group accepted")
	}
	uid, gid, err = LookupCredential("", "")
	if ks, kerr := user.Lookup(DefaultScriptUser); kerr != nil {
		if err != nil || uid != 0 || gid != 0 {
			t.Errorf("default without %s: %d:%d %v, want root", DefaultScriptUser, uid, gid, err)
		}
	} else if strconv.Itoa(int(uid)) != ks.Uid {
		t.Errorf("default: uid %d, want %s's %s", uid, DefaultScriptUser, ks.Uid)
	}
}

package check

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// DefaultScriptUser is the user keepalived runs scripts as when script_user
// is not configured and the user exists; otherwise scripts run as root.
const DefaultScriptUser = "keepalived_script"

// LookupCredential resolves keepalived's "user [group]" to numeric ids. An
// empty group means the user's primary group. An empty user means
// DefaultScriptUser if it exists, else root (0:0).
func LookupCredential(userName, groupName string) (uid, gid uint32, err error) {
	if userName == "" {
		u, err := user.Lookup(DefaultScriptUser)
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return 0, 0, nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("check: script user %s: %w", DefaultScriptUser, err)
		}
		userName = u.Username
	}
	u, err := user.Lookup(userName)
	if err != nil {
		if _, nerr := strconv.ParseUint(userName, 10, 32); nerr == nil {
			u, err = user.LookupId(userName)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("check: script user %s: %w", userName, err)
		}
	}
	id, _ := strconv.ParseUint(u.Uid, 10, 32)
	g, _ := strconv.ParseUint(u.Gid, 10, 32)
	if groupName != "" {
		grp, err := user.LookupGroup(groupName)
		if err != nil {
			if _, nerr := strconv.ParseUint(groupName, 10, 32); nerr == nil {
				grp, err = user.LookupGroupId(groupName)
			}
			if err != nil {
				return 0, 0, fmt.Errorf("check: script group %s: %w", groupName, err)
			}
		}
		g, _ = strconv.ParseUint(grp.Gid, 10, 32)
	}
	return uint32(id), uint32(g), nil
}

package healthcheck

import (
	"fmt"
	"strings"

	"github.com/vigil-ha/vigil/config"
)

// MatchCheckers pairs the checkers of a reloaded configuration with those
// of the running one, as keepalived does before it migrates their state:
// the same virtual server (address family, protocol, address and port; or
// fwmark; or group name and its ordinal among the virtual servers of that
// group), the same real server (address and port), then the first unpaired
// old checker of the same kind whose identifying settings are equal (the
// connection settings; for HTTP_GET/SSL_GET also the urls and virtualhost;
// DNS_CHECK type and name; SMTP_CHECK helo_name; MISC_CHECK the command,
// its user and misc_dynamic). FILE_CHECKs are never paired. The result
// maps each new CheckerID to its old one.
func MatchCheckers(oldCfg, newCfg *config.Config) map[CheckerID]CheckerID {
	type rsKey struct{ vs, rs string }
	old := map[rsKey][]CheckerID{}
	oldCk := map[CheckerID]*config.Checker{}
	walk := func(cfg *config.Config, f func(k rsKey, id RSID, rs *config.RealServer)) {
		groupSeen := map[string]int{}
		for vi, vs := range cfg.VirtualServers {
			var vk string
			switch {
			case vs.Group != "":
				vk = fmt.Sprintf("group %s %d", vs.Group, groupSeen[vs.Group])
				groupSeen[vs.Group]++
			case vs.IsFWMark:
				vk = fmt.Sprintf("fwmark %d %s", vs.FWMark, vs.IPFamily)
			default:
				vk = fmt.Sprintf("%s %s %d", vs.Protocol, vs.Addr, vs.Port)
			}
			for ri, rs := range vs.RealServers {
				f(rsKey{vk, fmt.Sprintf("%s %d", rs.Addr, rs.Port)}, RSID{vi, ri}, rs)
			}
		}
	}
	walk(oldCfg, func(k rsKey, id RSID, rs *config.RealServer) {
		for ci, ck := range rs.Checkers {
			cid := CheckerID{id, ci}
			old[k] = append(old[k], cid)
			oldCk[cid] = ck
		}
	})
	out := map[CheckerID]CheckerID{}
	walk(newCfg, func(k rsKey, id RSID, rs *config.RealServer) {
		cands := old[k]
		for ci, ck := range rs.Checkers {
			if ck.Kind == "FILE_CHECK" {
				continue
			}
			key := checkerKey(ck)
			for i, o := range cands {
				if o.Checker >= 0 && checkerKey(oldCk[o]) == key {
					out[CheckerID{id, ci}] = o
					cands[i].Checker = -1 // paired
					break
				}
			}
		}
	})
	return out
}

// checkerKey is what keepalived compares to tell one checker from another.
func checkerKey(ck *config.Checker) string {
	var b strings.Builder
	b.WriteString(ck.Kind)
	if ck.Kind != "MISC_CHECK" {
		fmt.Fprintf(&b, "|%s|%d|%s|%d|%s|%d|%d", ck.ConnectIP, ck.ConnectPort, ck.BindTo, ck.BindPort, ck.BindIf, ck.FWMark, ck.ConnectTimeout)
	}
	switch ck.Kind {
	case "HTTP_GET", "SSL_GET":
		fmt.Fprintf(&b, "|%s", ck.Virtualhost)
		for _, u := range ck.URLs {
			fmt.Fprintf(&b, "|%q %q %v %q %q %v", u.Path, u.Digest, u.StatusCodes, u.Virtualhost, u.Regex, u.RegexNoMatch)
		}
	case "DNS_CHECK":
		fmt.Fprintf(&b, "|%s|%s", ck.DNSType, ck.DNSName)
	case "SMTP_CHECK":
		fmt.Fprintf(&b, "|%s", ck.HeloName)
	case "MISC_CHECK":
		if ck.MiscPath != nil {
			fmt.Fprintf(&b, "|%q|%s|%s", ck.MiscPath.Argv, ck.MiscPath.User, ck.MiscPath.Group)
		}
		fmt.Fprintf(&b, "|%v", ck.MiscDynamic)
	}
	return b.String()
}

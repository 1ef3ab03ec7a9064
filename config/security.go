package config

import (
	"io/fs"
	"slices"
	"strings"
)

// scriptRef is one script vigil would run, with where it was configured.
type scriptRef struct {
	cmd  *Command
	kind string
}

func (p *parser) scripts() (vrrpScripts, checkScripts []scriptRef) {
	c := p.cfg
	add := func(list *[]scriptRef, cmd *Command, kind string) {
		if cmd != nil && len(cmd.Argv) > 0 {
			*list = append(*list, scriptRef{cmd, kind})
		}
	}
	if len(c.Instances) > 0 {
		for _, name := range p.scriptOrder {
			if s := c.Scripts[name]; s != nil {
				add(&vrrpScripts, s.Cmd, "vrrp_script "+name)
			}
		}
		for _, x := range c.Instances {
			n := &x.Notify
			for _, cmd := range []*Command{n.Backup, n.Master, n.Fault, n.Stop, n.Deleted, n.Any, n.MasterRxLowerPri} {
				add(&vrrpScripts, cmd, "notify script of "+x.Name)
			}
		}
		for _, g := range c.SyncGroups {
			n := &g.Notify
			for _, cmd := range []*Command{n.Backup, n.Master, n.Fault, n.Stop, n.Any} {
				add(&vrrpScripts, cmd, "notify script of sync group "+g.Name)
			}
		}
		add(&vrrpScripts, c.Global.NotifyFIFOScript, "notify_fifo_script")
		add(&vrrpScripts, c.Global.VRRPNotifyFIFOScript, "vrrp_notify_fifo_script")
	}
	for _, v := range c.VirtualServers {
		add(&checkScripts, v.QuorumUp, "quorum_up")
		add(&checkScripts, v.QuorumDown, "quorum_down")
		for _, r := range v.RealServers {
			add(&checkScripts, r.NotifyUp, "notify_up")
			add(&checkScripts, r.NotifyDown, "notify_down")
			for _, ck := range r.Checkers {
				if ck.Kind == "MISC_CHECK" {
					add(&checkScripts, ck.MiscPath, "misc_path")
				}
			}
		}
	}
	return vrrpScripts, checkScripts
}

// checkScriptSecurity follows keepalived's check_script_secure: a script
// that exists while enable_script_security is off is a security violation
// (-t exit 6); with script security on, a root script that a non-root user
// could modify is disabled.
func (p *parser) checkScriptSecurity() {
	g := &p.cfg.Global
	if g.EnableScriptSecurity && g.ScriptUser == "" && p.opts.UserExists != nil && !p.opts.UserExists("keepalived_script") {
		// keepalived cannot set its default script user: every script
		// without its own user is removed.
		vs, cs := p.scripts()
		for _, list := range [][]scriptRef{vs, cs} {
			for _, s := range list {
				if s.cmd.User == "" {
					p.warn(s.cmd.Pos, s.kind, "script removed; set script_user",
						"no script user: user keepalived_script does not exist and script security is enabled")
					s.cmd.Argv = nil
				}
			}
		}
		p.dropDisabled()
	}
	if p.opts.Stat == nil {
		return
	}
	defaultUser := g.ScriptUser
	if defaultUser == "" {
		defaultUser = "root"
		if p.opts.UserExists != nil && p.opts.UserExists("keepalived_script") {
			defaultUser = "keepalived_script"
		}
	}
	vs, cs := p.scripts()
	for _, list := range [][]scriptRef{vs, cs} {
		for _, s := range list {
			argv0 := s.cmd.Argv[0]
			if strings.HasPrefix(argv0, "<") && strings.HasPrefix(strings.TrimLeft(argv0[1:], " \t"), "/") {
				continue // a file-open test, not executed
			}
			path := argv0
			if !strings.Contains(path, "/") {
				if p.opts.LookPath == nil {
					continue
				}
				found, err := p.opts.LookPath(path)
				if err != nil {
					p.notice(s.cmd.Pos, s.kind, "script disabled", "cannot find script %s in PATH", path)
					continue
				}
				path = found
			}
			fi, err := p.opts.Stat(path)
			if err != nil {
				p.notice(s.cmd.Pos, s.kind, "script disabled", "script %s cannot be accessed: %v", path, unwrapPathErr(err))
				continue
			}
			user := s.cmd.User
			if user == "" {
				user = defaultUser
			}
			if !g.EnableScriptSecurity {
				p.report(s.cmd.Pos, Security, s.kind, "the script runs anyway; set enable_script_security",
					"script %s is executed but script security is not enabled", path)
				continue
			}
			if user == "root" && p.insecure(path, fi) {
				p.warn(s.cmd.Pos, s.kind, "script disabled", "unsafe permissions for script %s run as root", path)
			}
		}
	}
}

// insecure reports whether a non-root user could change the file or a
// directory above it.
func (p *parser) insecure(path string, fi fs.FileInfo) bool {
	check := func(fi fs.FileInfo) bool {
		uid, gid, ok := owner(fi)
		if !ok {
			return false
		}
		m := fi.Mode()
		if uid != 0 {
			return true
		}
		if m.IsDir() && m&fs.ModeSticky != 0 {
			return false
		}
		return (gid != 0 && m&0o020 != 0) || m&0o002 != 0
	}
	if check(fi) {
		return true
	}
	for dir := path; ; {
		i := strings.LastIndexByte(dir, '/')
		if i < 0 {
			return false
		}
		dir = dir[:i]
		d := dir
		if d == "" {
			d = "/"
		}
		dfi, err := p.opts.Stat(d)
		if err != nil {
			return false
		}
		if check(dfi) {
			return true
		}
		if d == "/" {
			return false
		}
	}
}

// dropDisabled removes commands whose Argv was cleared.
func (p *parser) dropDisabled() {
	c := p.cfg
	drop := func(cp **Command) {
		if *cp != nil && len((*cp).Argv) == 0 {
			*cp = nil
		}
	}
	for name, s := range c.Scripts {
		if s.Cmd != nil && len(s.Cmd.Argv) == 0 {
			delete(c.Scripts, name)
			for _, x := range c.Instances {
				x.TrackScripts = slices.DeleteFunc(x.TrackScripts, func(r TrackRef) bool { return r.Name == name })
			}
			for _, g := range c.SyncGroups {
				g.TrackScripts = slices.DeleteFunc(g.TrackScripts, func(r TrackRef) bool { return r.Name == name })
			}
		}
	}
	notify := func(n *Notify) {
		for _, cp := range []**Command{&n.Master, &n.Backup, &n.Fault, &n.Stop, &n.Any, &n.MasterRxLowerPri} {
			drop(cp)
		}
	}
	for _, x := range c.Instances {
		notify(&x.Notify)
	}
	for _, g := range c.SyncGroups {
		notify(&g.Notify)
	}
	drop(&c.Global.NotifyFIFOScript)
	drop(&c.Global.VRRPNotifyFIFOScript)
	for _, v := range c.VirtualServers {
		drop(&v.QuorumUp)
		drop(&v.QuorumDown)
		for _, r := range v.RealServers {
			drop(&r.NotifyUp)
			drop(&r.NotifyDown)
			r.Checkers = slices.DeleteFunc(r.Checkers, func(ck *Checker) bool {
				return ck.Kind == "MISC_CHECK" && ck.MiscPath != nil && len(ck.MiscPath.Argv) == 0
			})
		}
	}
}

package config

import (
	"errors"
	"slices"
	"strings"
)

// scriptRef is one script vigil would run, with where it was configured
// and the user it runs as ("" user: script_user, else the default).
type scriptRef struct {
	cmd         *Command
	kind        string
	user, group string
	track       bool // a vrrp_script: disabling it is a config error, as in keepalived
}

func (p *parser) scripts() (vrrpScripts, checkScripts []scriptRef) {
	c := p.cfg
	add := func(list *[]scriptRef, cmd *Command, kind string) {
		if cmd != nil && len(cmd.Argv) > 0 {
			*list = append(*list, scriptRef{cmd: cmd, kind: kind, user: cmd.User, group: cmd.Group})
		}
	}
	if len(c.Instances) > 0 {
		for _, name := range p.scriptOrder {
			if s := c.Scripts[name]; s != nil {
				add(&vrrpScripts, s.Cmd, "vrrp_script "+name)
				if n := len(vrrpScripts); n > 0 && vrrpScripts[n-1].cmd == s.Cmd {
					r := &vrrpScripts[n-1]
					r.track = true
					if s.User != "" {
						r.user, r.group = s.User, s.Group
					}
				}
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
	add(&vrrpScripts, c.Global.StartupScript, "startup_script")
	add(&vrrpScripts, c.Global.ShutdownScript, "shutdown_script")
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
	for _, list := range [][]scriptRef{vrrpScripts, checkScripts} {
		for i := range list {
			if list[i].user == "" {
				list[i].user, list[i].group = c.Global.ScriptUser, c.Global.ScriptGroup
			}
		}
	}
	return vrrpScripts, checkScripts
}

// scriptFault is what an error from Options.CheckScript may say about a
// script, in keepalived's terms (check.SecurityError has these methods).
// Any other error disables the script.
type scriptFault interface {
	Missing() bool       // not found or not accessible: disabled
	Unsafe() bool        // changeable by a non-root user while it runs as root: disabled with enable_script_security
	NotExecutable() bool // the user it runs as may not execute it: disabled
}

// checkScriptSecurity follows keepalived's check_script_secure and what its
// callers make of the answer. A script that cannot be found, is not
// executable by its user, or has a wrong file type on its path is disabled.
// With enable_script_security, a script that runs with root powers and that
// a non-root user could change (the file, a directory above it, or where a
// symlink leads) is disabled too; without it, every script found is a
// security violation (-t exit 6) and runs. Disabling a vrrp_script removes
// it from every instance and sync group that tracks it, and is a warning
// (-t exit 5); a disabled notify or checker script is a notice, as
// keepalived only logs it. A disabled script is removed from the
// configuration, so vigild never runs it; the runners check again right
// before every run.
func (p *parser) checkScriptSecurity() {
	g := &p.cfg.Global
	if g.EnableScriptSecurity && g.ScriptUser == "" && p.opts.UserExists != nil && !p.opts.UserExists("keepalived_script") {
		// keepalived cannot set its default script user: every script
		// without its own user is removed.
		vs, cs := p.scripts()
		for _, list := range [][]scriptRef{vs, cs} {
			for _, s := range list {
				if s.user == "" {
					p.warn(s.cmd.Pos, s.kind, "script removed; set script_user",
						"no script user: user keepalived_script does not exist and script security is enabled")
					s.cmd.Argv = nil
				}
			}
		}
		p.dropDisabled()
	}
	if p.opts.CheckScript == nil {
		return
	}
	vs, cs := p.scripts()
	for _, list := range [][]scriptRef{vs, cs} {
		for _, s := range list {
			argv0 := s.cmd.Argv[0]
			if strings.HasPrefix(argv0, "<") && strings.HasPrefix(strings.TrimLeft(argv0[1:], " \t"), "/") {
				continue // a file-open test, not executed
			}
			_, err := p.opts.CheckScript(argv0, s.user, s.group)
			var f scriptFault
			known := errors.As(err, &f)
			found := err == nil || !known || !f.Missing()
			runs := err == nil || (known && f.Unsafe() && !g.EnableScriptSecurity)
			if found && !g.EnableScriptSecurity {
				// keepalived: a script was found (SC_ISSCRIPT) and script
				// security is off.
				if runs && err == nil {
					p.report(s.cmd.Pos, Security, s.kind, "the script runs anyway; set enable_script_security",
						"script %s is executed but script security is not enabled", argv0)
				} else if runs {
					p.report(s.cmd.Pos, Security, s.kind, "the script runs anyway; set enable_script_security",
						"script %s is executed but script security is not enabled: %v", argv0, err)
				} else {
					p.report(s.cmd.Pos, Security, s.kind, "set enable_script_security",
						"scripts are executed but script security is not enabled")
				}
			}
			if runs {
				continue
			}
			switch {
			case s.track && (!known || !f.NotExecutable()):
				p.warn(s.cmd.Pos, s.kind, "script disabled and removed from tracking", "%v", err)
			case s.track:
				p.notice(s.cmd.Pos, s.kind, "script disabled and removed from tracking", "%v", err)
			default:
				p.notice(s.cmd.Pos, s.kind, "script disabled", "%v", err)
			}
			s.cmd.Argv = nil
		}
	}
	p.dropDisabled()
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
	drop(&c.Global.StartupScript)
	drop(&c.Global.ShutdownScript)
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

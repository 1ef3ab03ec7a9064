package config

import (
	"io/fs"
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
	if p.opts.Stat == nil {
		return
	}
	g := &p.cfg.Global
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

package config

// ifaceMissing reports an interface name that does not exist on this host.
// With dynamic_interfaces (global_defs, before the reference, as keepalived
// reads it) it is a notice and the reference stays: the interface is used
// once it is created. Without, it is report's complaint and keep is false.
func (p *parser) ifaceMissing(pos Pos, kw, name string, report func()) (keep bool) {
	if !p.cfg.Global.DynamicInterfaces {
		report()
		return false
	}
	p.notice(pos, kw, "waiting for it", "interface %s doesn't currently exist - will use if created (dynamic_interfaces)", name)
	return true
}

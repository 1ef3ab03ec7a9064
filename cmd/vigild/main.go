// Command vigild is vigil's daemon: keepalived-compatible VRRP, IPVS
// virtual servers with their health checkers, and conntrack state
// replication. It takes keepalived's command-line options,
// so an existing unit file or init script keeps working.
//
//	vigild -f /etc/keepalived/keepalived.conf -n -l -D
//	vigild -t -f FILE           # check a configuration; keepalived's exit codes
//	vigild --dump-config -f FILE # print the effective configuration
//	vigild --version             # module version and VCS commit of the build
//
// Without -n vigild detaches (daemonize.go), but the command returns only
// when the daemon runs, with its pid file written, or has failed: then
// with the daemon's errors and exit status. A bad command line is named on
// stderr with the usage, exit status 2. Under systemd (Type=notify) it
// reports readiness, reloads and stopping, and pings the watchdog while its
// event loop answers (sdnotify.go).
//
// Signals: SIGTERM / SIGINT stop (a master sends priority 0 and removes its
// addresses), SIGHUP reloads, SIGUSR1 writes the state to vigild.data and
// SIGUSR2 the counters to vigild.stats in the dump directory (--dump-dir,
// default /run/vigild, created 0700). The files are written by
// internal/safefile, in a goroutine of their own so that a slow file system
// never holds up a reload.
//
// Memory that only starting needed is given back (package memtrim): the heap's free
// pages and this process's mappings of the binary's read-only pages, after
// the configuration is read, before the loop starts, once it runs and once
// start-up has settled (the first transitions and their GARP rounds done).
// A second after each conntrack takeover the heap's free pages go back too:
// the commit, the flush and the bulk leave garbage the size of the table.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"syscall"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/healthcheck"
	"github.com/vigil-ha/vigil/internal/buildinfo"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/internal/daemon"
	"github.com/vigil-ha/vigil/internal/memtrim"
	"github.com/vigil-ha/vigil/internal/safefile"
	"github.com/vigil-ha/vigil/internal/syncworker"
	"github.com/vigil-ha/vigil/ipvs"
)

type options struct {
	file       string
	dontFork   bool
	logConsole bool
	logDetail  bool
	pidFile    string
	configTest string
	test       bool
	configID   string
	strict     bool
	dump       bool
	control    string
	dumpDir    string
	stateDir   string
	metrics    string
	kaNames    bool
	showVer    bool
	vrrpOnly   bool
	checkOnly  bool
	keepIPVS   bool
}

// hugePagesErr is why the process could not turn transparent huge pages
// off (memtrim.NoHugePages), logged once the logger is made.
var hugePagesErr error

func main() {
	hugePagesErr = memtrim.NoHugePages()
	memtrim.SetGC()
	if os.Getenv(syncworker.WorkerEnv) == "1" {
		// Started by vigild to run its conntrack replicator.
		os.Exit(daemon.SyncWorkerMain())
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) (code int) {
	var o options
	ready := func() {}
	fs := flag.NewFlagSet("vigild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVarP(&o.file, "use-file", "f", "/etc/keepalived/keepalived.conf", "configuration file")
	fs.BoolVarP(&o.dontFork, "dont-fork", "n", false, "stay in the foreground")
	fs.BoolVarP(&o.logConsole, "log-console", "l", false, "log to the console (stderr) instead of syslog")
	fs.BoolVarP(&o.logDetail, "log-detail", "D", false, "detailed (debug) log messages")
	fs.StringVarP(&o.pidFile, "pid", "p", "/run/vigild.pid", "pid file")
	fs.StringVarP(&o.configTest, "config-test", "t", "", "check the configuration and exit (optionally logging to FILE)")
	fs.Lookup("config-test").NoOptDefVal = "-"
	fs.StringVarP(&o.configID, "config-id", "i", "", "config id for @ID conditionals (default: short host name)")
	fs.BoolVar(&o.strict, "strict", false, "treat every configuration complaint as fatal")
	fs.BoolVar(&o.dump, "dump-config", false, "print the effective configuration and exit")
	fs.StringVar(&o.control, "control", ctl.DefaultSocket, "unix socket for vigilctl (empty: none)")
	fs.StringVar(&o.dumpDir, "dump-dir", defaultDumpDir, "directory for the SIGUSR1/SIGUSR2 dump files vigild.data and vigild.stats (created 0700 if missing)")
	fs.StringVar(&o.stateDir, "state-dir", defaultStateDir, "directory for what holds across restarts: maintenance.json, the instances in vigilctl maintenance (created 0700 if missing; empty: not kept)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics, /healthz and /readyz on this address (e.g. 127.0.0.1:9650; empty: off)")
	fs.BoolVar(&o.kaNames, "metrics-keepalived-names", false, "also serve keepalived-exporter's metric names (keepalived_vrrp_state, ...) on --metrics")
	fs.BoolVarP(&o.showVer, "version", "v", false, "print the version and exit")
	fs.BoolVarP(&o.vrrpOnly, "vrrp", "P", false, "run VRRP only: no IPVS, no health checkers")
	fs.BoolVarP(&o.checkOnly, "check", "C", false, "run the health checkers and IPVS only: no VRRP instance, static address or conntrack sync")
	fs.BoolVarP(&o.keepIPVS, "dont-release-ipvs", "I", false, "leave the IPVS services as they are at stop (and run no omega notify)")
	// Accepted for keepalived compatibility; vigild is one process, so
	// these select nothing.
	var ignoredS string
	var ignoredB bool
	fs.BoolVarP(&ignoredB, "dump-conf", "d", false, "dump the configuration to the log (use --dump-config)")
	fs.StringVarP(&ignoredS, "vrrp_pid", "r", "", "VRRP child pid file (ignored: one process)")
	fs.StringVarP(&ignoredS, "checkers_pid", "c", "", "checker child pid file (ignored: one process)")
	fs.StringVarP(&ignoredS, "log-facility", "S", "", "syslog facility 0..7 (LOCAL0..7)")
	fs.BoolVarP(&ignoredB, "no-syslog", "G", false, "do not log through syslog")
	// Usage is printed here, not by pflag: to stdout for --help, to stderr
	// after the error for anything else.
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs)
			return 0
		}
		return usageError(stderr, fs, err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(stderr, fs, fmt.Sprintf("unexpected argument %q (vigild takes options only)", fs.Arg(0)))
	}
	if o.dumpDir == "" {
		return usageError(stderr, fs, "--dump-dir must name a directory")
	}
	if _, _, err := net.SplitHostPort(o.metrics); o.metrics != "" && err != nil {
		return usageError(stderr, fs, fmt.Sprintf("--metrics %q: %v", o.metrics, err))
	}
	if o.kaNames && o.metrics == "" {
		return usageError(stderr, fs, "--metrics-keepalived-names needs --metrics")
	}
	if o.vrrpOnly && o.checkOnly {
		return usageError(stderr, fs, "-P (--vrrp) and -C (--check) exclude each other")
	}
	if o.showVer {
		fmt.Fprintln(stdout, buildinfo.String("vigild"))
		return 0
	}
	o.test = fs.Changed("config-test")
	if o.test && o.configTest != "-" && o.configTest != "" {
		// keepalived -t=FILE logs to FILE. As root, often in /tmp: never
		// through a symlink, into a FIFO or into another user's file.
		f, err := safefile.OpenAppend(o.configTest)
		if err != nil {
			fmt.Fprintf(stderr, "vigild: %v\n", err)
			return 4
		}
		defer f.Close()
		stderr = io.MultiWriter(stderr, f)
	}

	loadOpts := config.Options{
		ConfigID:        o.configID,
		Strict:          o.strict,
		InterfaceExists: interfaceExists,
		InterfaceMTU:    interfaceMTU,
		CheckScript:     check.CheckScriptAs,
		UserExists:      userExists,
		KeyFile:         checkKeyFile,
	}
	load := func() (*config.Config, []*config.Error, error) {
		cfg, complaints, err := config.Load(o.file, loadOpts)
		// A script-security violation (-t exit 6) is logged and the
		// scripts run, as keepalived does; --strict makes it fatal.
		if err == nil && config.ExitCode(cfg, complaints, nil) == config.ExitCannot {
			err = fmt.Errorf("%s: configuration cannot run", o.file)
		}
		return cfg, complaints, err
	}

	if o.test || o.dump {
		cfg, complaints, err := config.Load(o.file, loadOpts)
		for _, c := range complaints {
			fmt.Fprintln(stderr, c.Error())
		}
		if err != nil {
			fmt.Fprintf(stderr, "vigild: %v\n", err)
		}
		code := config.ExitCode(cfg, complaints, err)
		if o.test && cfg != nil && code != config.ExitCannot {
			// What IPVS and the checkers will refuse of what config took.
			if n := lvsComplaints(cfg, stderr); n > 0 && code == 0 {
				code = config.ExitWarnings
			}
		}
		if o.dump && code != 4 && cfg != nil {
			stdout.Write(config.Dump(cfg))
		}
		return code
	}

	if !o.dontFork && os.Getenv(childEnv) == "" {
		return daemonize(args, stderr)
	}
	// The marker is for this process only: scripts must not inherit it
	// (a vigild they started would take itself for a daemonized child).
	os.Unsetenv(childEnv)

	log := newLogger(o, stderr)
	if hugePagesErr != nil {
		log.Warn("Memory may be backed by transparent huge pages", "err", hugePagesErr)
	}
	// Started by daemonize: report readiness, or why we could not start,
	// to the waiting parent.
	if rep := openStartupReport(); rep != nil {
		log = slog.New(rep.handler(log.Handler()))
		defer func() { rep.fail(code) }()
		ready = rep.ready
	}
	// What the packages' initialisation touched of the program, given
	// back before the daemon reads its configuration: the reader and the
	// set-up then fault in their own pages rather than add to those.
	memtrim.Trim(log)
	cfg, complaints, err := load()
	daemon.LogComplaints(log, complaints)
	if err != nil {
		log.Error("Configuration failed to load; nothing was changed", "file", o.file, "err", err)
		if code := config.ExitCode(cfg, complaints, err); code != 0 {
			return code
		}
		return 1
	}
	memtrim.Trim(log) // the configuration reader's pages and garbage
	if o.pidFile != "" {
		pf, err := safefile.CreatePIDFile(o.pidFile, os.Getpid())
		if errors.Is(err, safefile.ErrLocked) {
			log.Error("Another vigild holds the pid file; not starting", "pidfile", o.pidFile, "err", err)
			return 1
		}
		if err != nil {
			log.Error("pid file", "pidfile", o.pidFile, "err", err)
			return 1
		}
		if pf.Replaced != "" {
			log.Warn("pid file: replaced what was at its path", "pidfile", o.pidFile, "was", pf.Replaced)
		}
		defer pf.Close()
	}
	dumpDir, err := filepath.Abs(o.dumpDir)
	if err != nil {
		log.Error("--dump-dir", "dir", o.dumpDir, "err", err)
		return 1
	}
	if tmp := os.Getenv("TMPDIR"); tmp != "" && !fs.Changed("dump-dir") {
		log.Info("TMPDIR is set: keepalived writes its dump files there, vigild writes them to --dump-dir", "TMPDIR", tmp, "dump_dir", dumpDir)
	}

	sd, err := newSDNotifier()
	if err != nil {
		log.Warn("systemd notification", "err", err)
	}
	mode := daemon.ModeAll
	switch {
	case o.vrrpOnly:
		mode = daemon.ModeVRRP
	case o.checkOnly:
		mode = daemon.ModeCheck
	}
	// The conntrack replicator runs in a process of its own, started from
	// this binary (syncworker), not from the file now at its path, which an
	// upgrade may have replaced; without it, in this process.
	worker := syncworker.SelfExe
	if _, err := os.Stat(worker); err != nil {
		log.Warn("conntrack sync: cannot find this program's binary, the replicator runs in the daemon", "err", err)
		worker = ""
	}
	d, err := daemon.New(cfg, daemon.Options{Log: log, Reload: load, Mode: mode, KeepIPVS: o.keepIPVS, StateDir: o.stateDir,
		Host: daemon.Host{LocalAddrs: localAddrs, SyncWorker: worker}})
	if err != nil {
		log.Error("Cannot start; nothing was changed", "err", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	// The dumps are written by runDumps, so that a dump stuck on a slow
	// file system never keeps the signal goroutine from a reload.
	dumps := make(chan string, 2)
	go runDumps(ctx, dumps, dumpDir, dumpDir == defaultDumpDir, d, log)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				switch s {
				case syscall.SIGHUP:
					log.Info("Reloading configuration (SIGHUP)")
					sd.send("RELOADING=1")
					if err := d.Reload(ctx); err != nil {
						log.Error("Reload", "err", err)
					}
					sd.send("READY=1")
				case syscall.SIGUSR1, syscall.SIGUSR2:
					name := "vigild.data"
					if s == syscall.SIGUSR2 {
						name = "vigild.stats"
					}
					select {
					case dumps <- name:
					default:
						log.Warn("Dump skipped: the previous ones are still being written", "file", filepath.Join(dumpDir, name))
					}
				}
			}
		}
	}()
	if o.control != "" {
		go func() {
			if err := d.ServeControl(ctx, o.control); err != nil {
				log.Warn("control socket", "path", o.control, "err", err)
			}
		}()
	}
	if o.metrics != "" {
		go func() {
			if err := d.ServeMetrics(ctx, o.metrics, ctl.MetricsConfig{KeepalivedNames: o.kaNames}); err != nil {
				log.Warn("metrics endpoint", "addr", o.metrics, "err", err)
			}
		}()
	}
	if err := sd.send("READY=1"); err != nil {
		log.Warn("systemd notification", "err", err)
	}
	go sd.runWatchdog(ctx, func() { d.Status() })
	go func() {
		<-ctx.Done()
		sd.send("STOPPING=1")
	}()
	ready()
	// Start-up memory is released four times: after the configuration
	// is read and before the loop starts (the peak resident size stays
	// lower), once the loop has started every instance (it answers
	// Status only then), and once start-up has settled: the first
	// transitions made, a new master's addresses added and its GARP / NA
	// rounds sent.
	memtrim.Trim(log)
	go func() {
		d.Status()
		memtrim.Trim(log)
		select {
		case <-d.Settled():
			memtrim.Trim(log)
		case <-ctx.Done():
		}
	}()
	go releaseAfterTakeovers(ctx, log, d)
	if err := d.Run(ctx); err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	return 0
}

// takeoverRelease is how long after a conntrack takeover's commit its
// memory is given back: its bulk to the peer, which follows the commit,
// takes about 50 ms with 100k flows and half a second with 1M.
const takeoverRelease = time.Second

// releaseAfterTakeovers gives the heap's free pages back to the system a
// moment after each conntrack takeover (Daemon.TakeoverDone). The new
// master's commit buffers, its flushed external cache and its bulk leave
// garbage the size of the replicated table. In the firewall pair with 100k
// flows the new master's resident size stayed at 44.7 MB until the
// collector's forced cycle two minutes later (30.2 MB after it); released,
// it was 23.7 MB a second after the takeover. Until ctx ends.
func releaseAfterTakeovers(ctx context.Context, log *slog.Logger, d *daemon.Daemon) {
	for {
		select {
		case <-d.TakeoverDone():
		case <-ctx.Done():
			return
		}
		select {
		case <-time.After(takeoverRelease):
		case <-ctx.Done():
			return
		}
		memtrim.Heap(log, "conntrack takeover")
	}
}

// lvsComplaints prints, with file:line, what ipvs.Build and
// healthcheck.Build refuse or change in cfg, and returns their number.
func lvsComplaints(cfg *config.Config, w io.Writer) int {
	_, complaints := ipvs.Build(cfg)
	for _, c := range complaints {
		fmt.Fprintln(w, c.Error())
	}
	_, _, errs := healthcheck.Build(cfg)
	for _, err := range errs {
		fmt.Fprintln(w, err)
	}
	return len(complaints) + len(errs)
}

// localAddrs lists the addresses of the local interfaces (ha_suspend
// under -C).
func localAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out, nil
}

func interfaceExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// interfaceMTU is the interface's MTU, for the number of VIPs an advert
// can carry.
func interfaceMTU(name string) (int, bool) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, false
	}
	return ifi.MTU, true
}

// checkKeyFile reads conntrack_sync's auth_key_file as the replicator will
// (owner, permissions, directories, content) and forgets the key.
func checkKeyFile(path string) error {
	_, err := conntracksync.ReadAuthKeyFile(path)
	return err
}

func userExists(name string) bool {
	_, err := user.Lookup(name)
	return err == nil
}

// newLogger logs to stderr with -l (or when not daemonized and syslog is
// unavailable), otherwise to syslog, as keepalived does.
func newLogger(o options, stderr io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if o.logDetail {
		level = slog.LevelDebug
	}
	var w io.Writer = stderr
	if !o.logConsole {
		if sw, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "vigild"); err == nil {
			w = sw
		}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// defaultDumpDir holds the SIGUSR1/SIGUSR2 dump files unless --dump-dir
// says otherwise: a root-only directory, where keepalived uses /tmp.
const defaultDumpDir = "/run/vigild"

// defaultStateDir keeps what must hold across restarts and reboots (the
// unit's StateDirectory).
const defaultStateDir = "/var/lib/vigild"

// runDumps writes a dump file for every name received until ctx ends.
func runDumps(ctx context.Context, names <-chan string, dir string, isDefault bool, d *daemon.Daemon, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case name := <-names:
			writeDump(dir, isDefault, name, d.Status(), log)
		}
	}
}

// writeDump writes v as JSON to name in dir through safefile: the
// directory is created 0700 if missing and refused if anyone but root
// could change it (the default one also when it is sticky and writable by
// others); whatever is at the name is replaced, never written into.
func writeDump(dir string, isDefault bool, name string, v any, log *slog.Logger) {
	path := filepath.Join(dir, name)
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		log.Error("Dump refused", "file", path, "err", err)
		return
	}
	sd, err := safefile.OpenDir(dir, 0o700)
	if err != nil {
		log.Error("Dump refused", "file", path, "err", err)
		return
	}
	defer sd.Close()
	if isDefault {
		if mode, _, err := sd.Mode(); err != nil || mode&0o022 != 0 {
			log.Error("Dump refused: the default dump directory must be writable by root only", "file", path, "mode", mode, "err", err)
			return
		}
	}
	replaced, err := sd.WriteFile(name, append(b, '\n'), 0o600)
	if err != nil {
		log.Error("Dump refused", "file", path, "err", err)
		return
	}
	if replaced != "" {
		log.Warn("Dump file replaced what was at its path", "file", path, "was", replaced)
	}
	log.Info("Wrote dump file", "file", path)
}

// usage prints vigild's synopsis and its options to w.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `Usage: vigild [OPTION]...
keepalived-compatible VRRP daemon with IPVS health checking and conntrack
state replication.

Options:
%s
Without -n, vigild detaches and returns once the daemon is running; if it
cannot start, the error is printed and the exit status is not 0.
`, fs.FlagUsages())
}

// usageError reports a bad command line as getopt tools do: one line
// naming the problem, then the usage, exit status 2.
func usageError(stderr io.Writer, fs *flag.FlagSet, msg string) int {
	fmt.Fprintf(stderr, "vigild: %s\n", msg)
	usage(stderr, fs)
	return 2
}

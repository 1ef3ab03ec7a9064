// Package ctl is vigild's operator surface: the status document, the
// control protocol that vigilctl speaks over a unix socket (server and
// client), and the Prometheus metrics rendered from a status snapshot.
//
// What it owns:
//   - the status types (Status and the types it holds): one definition,
//     read by vigilctl, the metrics, the SIGUSR1 dump and the tests; their
//     JSON keys are snake_case and stable;
//   - the control protocol: the client sends one command line (status,
//     reload, reload --force, demote TARGET, promote TARGET, maintenance
//     on|off [TARGET], events, and the conntrack replication's ct dump
//     internal|external, ct stats, ct commit, ct flush, ct resync, ct
//     bulk; at most 256 bytes), the server answers with one JSON document
//     (the Status, a CTDump, the CTStatus, or a Result) and hangs up, but
//     for events: a stream of JSON lines (Event) until the client hangs
//     up, fed by a Hub whose Publish never blocks (a client that falls
//     behind is dropped and counted);
//   - the audit: every command of a client let in is told to the
//     Handler with the client's SO_PEERCRED credentials and its outcome;
//   - the control socket: created 0600 with no wider moment (bound in a
//     private directory, then renamed into place), in a directory only
//     root can change; a stale socket replaced and anything else at its
//     path left alone; a client that is neither root nor vigild's own user
//     refused by SO_PEERCRED and reported to the Handler;
//   - the metrics endpoint (endpoint.go): /metrics, /healthz, /readyz;
//     at most one snapshot per 250 ms however many requests come, and
//     each request waits for it at most MetricsConfig.Timeout;
//   - the metrics: one table (metrics.go) names every family, its type,
//     help, labels and how to read it from a Status; every counter of the
//     Status is in it (a test holds the table to that); keepalived.go
//     holds the keepalived exporter's families vigil can answer, served
//     with MetricsConfig.KeepalivedNames; runtime.go and process_linux.go
//     the process_* and go_* families, read from /proc/self and the Go
//     runtime at each scrape.
//
// What it must not do: own daemon state. The Server calls a Handler (the
// daemon) for the snapshot and for reloads; the daemon builds the Status.
//
// Concurrency: Server.Serve runs the accept loop; one goroutine per
// connection, each started and waited for by the Server: Close, or the
// end of Serve's context, returns only after all of them have ended.
// Client holds no connection between calls and is safe for concurrent use.
package ctl

// Package store is the hub's content store: the viewer page's text and links, how zones are shown,
// lighting presets, dashboard accounts and their sessions, bridge and API tokens, the audit log, the
// print history and the viewers moderators blocked.
//
// It runs on MySQL or MariaDB (the hub's -mysql flag, a github.com/go-sql-driver/mysql DSN) or, without
// one, on an SQLite file in the hub's data directory through the pure-Go driver modernc.org/sqlite (no
// cgo). Both use one set of embedded, versioned migrations (see migrate.go), applied by Open under a lock
// so that several hubs may start at once.
//
// Every write is validated in Go first: refusals wrap ErrInvalid and carry a message a streamer can act
// on, and change nothing. Every query is parameterised. Text is stored as plain text, exactly as given:
// pages show it with textContent, so markup is neither escaped nor stripped here. Times are stored as
// Unix milliseconds and read back in UTC; the zero time.Time is stored as 0 and means "never".
package store

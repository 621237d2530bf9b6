// Package lighting owns the zones viewers control and their light state: the
// `light:set` command and its validation against a zone, the rate limits that
// keep viewers fair and devices alive, the per-zone state store (Redis, or in
// memory for the embedded hub) with its monotonic versions, and the coalesced
// `lights` broadcast. The streamer's dashboard builds on its controls: how zones
// are shown to viewers (ZoneSettings), blocked viewers, changes of the streamer's
// own (Apply), what bridges report about their devices (AdminZones), and an
// Observer that hears every command and confirmation.
//
// The payloads follow the Socket.IO contract in ARCHITECTURE.md ("Lights").
// Refusals are *Error values whose Code and Message may be shown to the client
// that caused them.
package lighting

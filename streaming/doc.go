// Package streaming carries the live camera: ingest over WHIP (RFC 9725,
// https://www.rfc-editor.org/rfc/rfc9725) from OBS or a browser, or an RTSP pull from an IP camera; playback
// over WebRTC through WHEP to many viewers at once, with LL-HLS as the fallback; and a test-pattern camera
// for the embedded demo.
//
// Every stream has one publication at a time. Its packets are written once into a shared track per kind;
// each viewer drains that track through a bounded queue of its own, so a slow or stuck viewer loses its own
// packets and never delays the others.
package streaming

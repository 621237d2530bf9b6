// Package web is the hub's face to the world: the HTTP server and its routes, the Socket.IO namespaces
// (viewers at "/", bridge agents at "/bridge"), the HTTP API, and the viewer page served from embedded assets.
//
// Socket.IO is github.com/zishang520/socket.io/v2, speaking Socket.IO protocol v5 over Engine.IO 4
// (https://socket.io/docs/v4/socket-io-protocol/), so the official JavaScript client v4 connects.
package web

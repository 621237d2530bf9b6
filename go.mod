module github.com/stagelink/stagelink

go 1.26.0

require (
	github.com/bwmarrin/discordgo v0.29.0
	github.com/google/go-cmp v0.7.0
	github.com/gorilla/websocket v1.5.3
	github.com/rabbitmq/amqp091-go v1.16.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/zishang520/engine.io-client-go v1.1.0
	github.com/zishang520/engine.io/v2 v2.5.0
	github.com/zishang520/socket.io-client-go v1.1.0
	github.com/zishang520/socket.io-go-parser/v2 v2.5.0
	github.com/zishang520/socket.io/v2 v2.5.0
	go.bug.st/serial v1.6.4
	golang.org/x/image v0.24.0
	golang.org/x/sync v0.18.0
	golang.org/x/text v0.23.0
	gopkg.in/yaml.v3 v3.0.1
	rsc.io/qr v0.2.0
)

require (
	github.com/andybalholm/brotli v1.2.0 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/creack/goselect v0.1.2 // indirect
	github.com/gookit/color v1.5.4 // indirect
	github.com/klauspost/compress v1.18.0 // indirect
	github.com/kr/pretty v0.3.1 // indirect
	github.com/quic-go/qpack v0.5.1 // indirect
	github.com/quic-go/quic-go v0.53.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/xo/terminfo v0.0.0-20210125001918-ca9a967f8778 // indirect
	github.com/zishang520/engine.io-go-parser v1.3.2 // indirect
	github.com/zishang520/webtransport-go v0.9.1 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.uber.org/mock v0.5.1 // indirect
	golang.org/x/crypto v0.36.0 // indirect
	golang.org/x/mod v0.18.0 // indirect
	golang.org/x/net v0.38.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/tools v0.22.0 // indirect
	resty.dev/v3 v3.0.0-beta.3 // indirect
)

package streaming

import "log/slog"

func newHLSOutput(log *slog.Logger) hlsOutput { return nil }

package lighting

import (
	"errors"
	"time"
)

// Code is an error code of the Socket.IO and HTTP contract.
type Code string

// The contract's error codes.
const (
	CodeBadRequest  Code = "bad_request"
	CodeUnknownZone Code = "unknown_zone"
	CodeZoneOffline Code = "zone_offline"
	CodeRateLimited Code = "rate_limited"
	CodePaused      Code = "paused"
	CodeBlocked     Code = "blocked" // the streamer blocked this viewer's name or address
	CodeInternal    Code = "internal"
)

// Error is a refusal that is safe to show to the client that caused it.
type Error struct {
	Code       Code
	Message    string
	RetryAfter time.Duration // with CodeRateLimited
}

// Error implements error.
func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// ErrorCode returns the contract code for err: its own if it is an *Error, CodeInternal otherwise.
func ErrorCode(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return CodeInternal
}

func badRequest(msg string) *Error { return &Error{Code: CodeBadRequest, Message: msg} }

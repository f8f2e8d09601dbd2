package raftfsm

import (
	"errors"
	"time"
)

// ErrBadCommand means a command is well-formed but invalid (e.g. an image
// without an id).
var ErrBadCommand = errors.New("invalid command")

// Tombstone remembers a deleted image's id so it is never reused.
type Tombstone struct {
	ID        string    `json:"id"`
	DeletedAt time.Time `json:"deleted_at"`
}

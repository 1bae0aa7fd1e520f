package store

import "errors"

// ErrUnknownState is returned when a state name is not one of States.
var ErrUnknownState = errors.New("unknown state")

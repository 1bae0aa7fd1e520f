package genesys_test

import (
	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/scheduler"
)

// The scheduler codes against scheduler.API; the client must satisfy it.
var _ scheduler.API = (*genesys.Client)(nil)

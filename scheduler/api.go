package scheduler

import (
	"context"

	"github.com/gcbulk/gcbulk/genesys"
)

// API is what the scheduler needs from Genesys Cloud. *genesys.Client
// implements it; tests use fakes. Every error is classified by
// genesys.ClassOf.
type API interface {
	// GetUsers reads up to 100 users in one request. Ids that do not exist
	// are simply absent from the answer.
	GetUsers(ctx context.Context, ids []string) ([]genesys.User, genesys.Meta, error)
	// GetUser reads one user; an unknown id is a ClassNotFound error.
	GetUser(ctx context.Context, id string) (genesys.User, genesys.Meta, error)
	// PatchUser sends one PATCH body and returns the user as it now is.
	PatchUser(ctx context.Context, id string, p genesys.Patch) (genesys.User, genesys.Meta, error)
	// MoveUsers moves users into a division in one request.
	MoveUsers(ctx context.Context, divisionID string, ids []string) (genesys.Meta, error)
	// ResolveEmails maps e-mail addresses (any case) to user ids, keyed by
	// the lower-cased address; addresses with no user are absent.
	ResolveEmails(ctx context.Context, emails []string) (map[string]string, error)
}

package genesys

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
)

const (
	// listPageSize is the page size used to list the directory, as
	// Genesys's own Terraform provider does.
	listPageSize = 500
	// resolveAttempts bounds the sends of one page or search during
	// ResolveEmails when answers are transient or rate limited.
	resolveAttempts = 4
	// transientBackoff is the first wait after a transient answer; it
	// doubles with each attempt.
	transientBackoff = 250 * time.Millisecond
)

// ResolveEmails maps e-mail addresses (any case) to user ids, keyed by the
// lower-cased address; addresses with no user are absent. It picks the
// cheaper way: listing the directory 500 users a page when more addresses
// are wanted than pages remain, one exact search per address otherwise.
// If deep paging is refused, the addresses still unresolved are searched.
func (c *Client) ResolveEmails(ctx context.Context, emails []string) (map[string]string, error) {
	wanted := make(map[string]struct{}, len(emails))
	for _, e := range emails {
		if k := strings.ToLower(strings.TrimSpace(e)); k != "" {
			wanted[k] = struct{}{}
		}
	}
	found := make(map[string]string, len(wanted))

	// One address costs one search; listing could never be cheaper.
	if len(wanted) > 1 {
		if err := c.resolveByListing(ctx, wanted, found); err != nil {
			return nil, err
		}
	}
	if err := c.resolveBySearch(ctx, wanted, found); err != nil {
		return nil, err
	}
	return found, nil
}

// resolveByListing pages through the directory while more addresses are
// wanted than pages remain, moving each match from wanted to found.
func (c *Client) resolveByListing(ctx context.Context, wanted map[string]struct{},
	found map[string]string) error {
	for number, pageCount := 1, 1; number <= pageCount && len(wanted) > 0; number++ {
		var page UserPage
		err := c.retry(ctx, func() error {
			var err error
			page, _, err = c.ListUsers(ctx, listPageSize, number)
			return err
		})
		if number > 1 && ClassOf(err) == ClassInvalid {
			c.log.DebugContext(ctx, "deep paging refused, searching the rest",
				slog.Int("page_number", number), slog.Int("unresolved", len(wanted)))
			return nil
		}
		if err != nil {
			return err
		}

		for _, u := range page.Entities {
			k := strings.ToLower(u.Email)
			if _, ok := wanted[k]; ok {
				found[k] = u.ID
				delete(wanted, k)
			}
		}
		pageCount = pagesOf(page)
		if len(page.Entities) == 0 || len(wanted) <= pageCount-number {
			return nil
		}
	}
	return nil
}

// pagesOf returns the page count of a listing, from total when the answer
// does not give it.
func pagesOf(p UserPage) int {
	if p.PageCount > 0 {
		return p.PageCount
	}
	size := p.PageSize
	if size <= 0 {
		size = listPageSize
	}
	return (p.Total + size - 1) / size
}

// resolveBySearch sends one exact search per address still wanted.
func (c *Client) resolveBySearch(ctx context.Context, wanted map[string]struct{},
	found map[string]string) error {
	for k := range wanted {
		var (
			u  User
			ok bool
		)
		err := c.retry(ctx, func() error {
			var err error
			u, ok, _, err = c.SearchEmail(ctx, k)
			return err
		})
		switch cl := ClassOf(err); {
		case err == nil && ok:
			found[k] = u.ID
		case err == nil, cl == ClassNotFound, cl == ClassInvalid:
			// No such user, or an address Genesys will not search for.
		default:
			return err
		}
		delete(wanted, k)
	}
	return nil
}

// retry runs fn again after transient or rate-limited answers, a few
// times. With a pacer, the pacer holds back the next send after a 429;
// without one, retry waits for Retry-After itself.
func (c *Client) retry(ctx context.Context, fn func() error) error {
	var err error
	for attempt := range resolveAttempts {
		if err = fn(); err == nil {
			return nil
		}
		var e *Error
		if !errors.As(err, &e) || ctx.Err() != nil {
			return err
		}

		var wait time.Duration
		switch {
		case e.Class == ClassRateLimited && c.pacer == nil:
			wait = e.RetryAfter
		case e.Class == ClassTransient:
			wait = transientBackoff << attempt
		case e.Class != ClassRateLimited:
			return err
		}
		if attempt+1 < resolveAttempts && wait > 0 {
			if serr := c.sleep(ctx, wait); serr != nil {
				return err
			}
		}
	}
	return err
}

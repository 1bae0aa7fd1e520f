package genesys

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func setupDirectory(t *testing.T, n int, cfg Config) (*Client, *directory, *fake) {
	t.Helper()
	d := newDirectory(n)
	f := newFake(t, d.handler())
	return f.client(cfg), d, f
}

func TestClient_GetUsers(t *testing.T) {
	t.Parallel()
	c, d, f := setupDirectory(t, 150, Config{})
	ctx := context.Background()

	ids := []string{"id-00003", "missing", "id-00149"}
	users, meta, err := c.GetUsers(ctx, ids)
	require.NoError(t, err)
	require.Equal(t, 200, meta.Status)
	require.Equal(t, "cid-ok", meta.CorrelationID)
	require.Len(t, users, 2)
	require.Equal(t, "id-00149", users[1].ID)

	// 100 ids come back in one page, not the default 25.
	var hundred []string
	for i := range 100 {
		hundred = append(hundred, fmt.Sprintf("id-%05d", i))
	}
	users, _, err = c.GetUsers(ctx, hundred)
	require.NoError(t, err)
	require.Len(t, users, 100)

	_, _, err = c.GetUsers(ctx, append(hundred, "x"))
	require.Equal(t, ClassInvalid, ClassOf(err))
	users, _, err = c.GetUsers(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, users)
	require.Equal(t, int64(2), d.gets.Load())
	require.Equal(t, int64(2), f.apiRequests.Load())
}

func TestClient_GetUser(t *testing.T) {
	t.Parallel()
	c, d, _ := setupDirectory(t, 3, Config{UserAgent: "probe/1"})

	u, meta, err := c.GetUser(context.Background(), "id-00002")
	require.NoError(t, err)
	require.Equal(t, "user2@example.com", u.Email)
	require.Equal(t, 200, meta.Status)
	require.Equal(t, "probe/1", d.lastUA.Load())

	_, meta, err = c.GetUser(context.Background(), "nobody")
	require.Equal(t, ClassNotFound, ClassOf(err))
	require.Equal(t, 404, meta.Status)
}

func TestClient_PatchUser(t *testing.T) {
	t.Parallel()
	c, d, _ := setupDirectory(t, 3, Config{})
	title := "Lead"

	u, _, err := c.PatchUser(context.Background(), "id-00001", Patch{Title: &title, Version: 1})
	require.NoError(t, err)
	require.Equal(t, "Lead", u.Title)
	require.Equal(t, 2, u.Version)
	require.Equal(t, "application/json", d.lastCT.Load())
	require.Equal(t, "gcbulk/"+Version, d.lastUA.Load())

	_, _, err = c.PatchUser(context.Background(), "id-00001", Patch{Title: &title, Version: 1})
	require.Equal(t, ClassConflict, ClassOf(err))
}

func TestClient_MoveUsers(t *testing.T) {
	t.Parallel()
	c, d, f := setupDirectory(t, 5, Config{})

	meta, err := c.MoveUsers(context.Background(), "div-new", []string{"id-00001", "id-00003"})
	require.NoError(t, err)
	require.Equal(t, 204, meta.Status)
	require.Equal(t, "div-new", d.users[1].Division.ID)
	require.Equal(t, "div-home", d.users[2].Division.ID)
	require.Equal(t, "div-new", d.users[3].Division.ID)

	_, err = c.MoveUsers(context.Background(), "div-new", nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), f.apiRequests.Load())
}

func TestClient_ListAndSearch(t *testing.T) {
	t.Parallel()
	c, _, _ := setupDirectory(t, 1203, Config{})
	ctx := context.Background()

	page, _, err := c.ListUsers(ctx, 500, 3)
	require.NoError(t, err)
	require.Len(t, page.Entities, 203)
	require.Equal(t, 1203, page.Total)
	require.Equal(t, 3, page.PageCount)
	require.Equal(t, "id-01000", page.Entities[0].ID)

	u, ok, meta, err := c.SearchEmail(ctx, "USER77@Example.com")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "id-00077", u.ID)
	require.Equal(t, 200, meta.Status)

	_, ok, _, err = c.SearchEmail(ctx, "nobody@example.com")
	require.NoError(t, err)
	require.False(t, ok)
}

package sim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

// TestConcurrentWriters has many clients race read-then-patch on a few
// users: every 200 must bump the version by exactly one.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	b := setupUsers(t, sim.Config{}, sim.Generate(4, 9))
	tok := b.login(t)

	var mu sync.Mutex
	oks, statuses := map[string]int{}, map[int]int{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 15 {
				u := b.users[(g+i)%len(b.users)]
				var cur genesys.User
				err := call(b.hc, http.MethodGet, b.url+"/api/v2/users/"+u.ID, tok, nil, &cur)
				status := 0
				if err == nil {
					body, _ := json.Marshal(genesys.Patch{Title: ptr(fmt.Sprint(g, i)),
						Version: cur.Version})
					status, err = callStatus(b.hc, http.MethodPatch,
						b.url+"/api/v2/users/"+u.ID, tok, body)
				}
				mu.Lock()
				statuses[status]++
				if status == http.StatusOK && err == nil {
					oks[u.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 120, statuses[200]+statuses[409], "statuses %v", statuses)

	st := b.srv.Stats()
	total := 0
	for _, u := range b.srv.Users() {
		start := b.users[indexOf(b.users, u.ID)]
		require.Equal(t, start.Version+oks[u.ID], u.Version)
		total += oks[u.ID]
	}
	require.EqualValues(t, total, st.PatchesApplied+st.PatchesNoop)
	require.EqualValues(t, st.ByStatus["200"]-121, total) // 120 reads and a token
}

package sim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcbulk/gcbulk/genesys"
	"github.com/gcbulk/gcbulk/genesys/sim"
)

// BenchmarkGetPatch measures the simulator alone (no limit, no faults)
// serving GET+PATCH pairs over loopback HTTP with keep-alive and parallel
// clients. Run: go test ./genesys/sim -run '^$' -bench GetPatch.
func BenchmarkGetPatch(b *testing.B) {
	users := sim.Generate(5000, 1)
	srv, base, stop, err := sim.StartServer(sim.Config{}, users)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	tok := benchToken(b, hc, base)

	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := users[int(next.Add(1))%len(users)].ID
			if err := getPatch(hc, base, tok, id); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.ReportMetric(float64(2*b.N)/elapsed.Seconds(), "requests/s")
	if st := srv.Stats(); st.ByStatus["200"] < int64(2*b.N) {
		b.Errorf("only %d answers of 200 for %d requests", st.ByStatus["200"], 2*b.N)
	}
}

// getPatch reads a user and patches its title with the version read; a
// 409 from a racing worker is fine.
func getPatch(hc *http.Client, base, tok, id string) error {
	var u genesys.User
	if err := call(hc, http.MethodGet, base+"/api/v2/users/"+id, tok, nil, &u); err != nil {
		return err
	}
	title := u.Title + "!"
	body, _ := json.Marshal(genesys.Patch{Title: &title, Version: u.Version})
	return call(hc, http.MethodPatch, base+"/api/v2/users/"+id, tok, body, nil)
}

func call(hc *http.Client, method, url, tok string, body []byte, out any) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// callStatus sends one request and returns its status.
func callStatus(hc *http.Client, method, url, tok string, body []byte) (int, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

func benchToken(b *testing.B, hc *http.Client, base string) string {
	b.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token",
		bytes.NewReader([]byte("grant_type=client_credentials")))
	req.SetBasicAuth(sim.DefaultClientID, sim.DefaultClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		b.Fatal(err)
	}
	return tok.AccessToken
}

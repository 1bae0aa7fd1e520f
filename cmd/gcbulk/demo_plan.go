package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/gcbulk/gcbulk/genesys"
)

// demoPlanStats says what the demo plan asks for, so the demo can check
// the run did exactly that.
type demoPlanStats struct {
	Rows     int // data rows written
	Matching int // rows that already match the directory
	ByEmail  int // rows naming their user by e-mail
	Moves    int // rows that move a user to another division
	Unknown  int // rows naming users that do not exist
}

var (
	demoTitles = []string{"Team Lead", "Senior Agent", "Quality Analyst", "Workforce Planner",
		"Escalations Specialist", "Support Engineer", "Customer Success Manager", "Trainer"}
	demoDepartments = []string{"Customer Care", "Billing", "Technical Support", "Retention",
		"Sales", "Onboarding", "Collections"}
)

// demoUnknown is how many rows of the demo plan name users that do not
// exist: each must end as a recorded not-found.
const demoUnknown = 3

// writeDemoPlan writes to w a reorganisation of users as a CSV plan with
// the reference plan's columns: title and department changes, some
// division moves, some rows keyed by e-mail, a few rows that already
// match, and a few unknown users. It is deterministic under seed.
func writeDemoPlan(w io.Writer, users []genesys.User, seed uint64) (demoPlanStats, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	divisions := divisionsOf(users)
	cw := csv.NewWriter(w)
	var st demoPlanStats

	if err := cw.Write([]string{"id", "email", "name", "department", "title", "manager",
		"division"}); err != nil {
		return st, fmt.Errorf("write demo plan: %w", err)
	}
	for i := range users {
		u := &users[i]
		row := demoRow(rng, u, i, divisions, &st)
		if err := cw.Write(row); err != nil {
			return st, fmt.Errorf("write demo plan: %w", err)
		}
		st.Rows++
		if i%(len(users)/demoUnknown+1) == len(users)/(2*demoUnknown) {
			if err := cw.Write(unknownRow(rng)); err != nil {
				return st, fmt.Errorf("write demo plan: %w", err)
			}
			st.Rows++
			st.Unknown++
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return st, fmt.Errorf("write demo plan: %w", err)
	}
	return st, nil
}

// demoRow builds the plan row for user u, the i-th of the directory.
func demoRow(rng *rand.Rand, u *genesys.User, i int, divisions []string,
	st *demoPlanStats) []string {
	// id, email, name, department, title, manager, division
	row := []string{u.ID, "", "", "", "", "", ""}
	if i%10 == 9 && u.Email != "" {
		row[0], row[1] = "", u.Email
		if i%20 == 19 {
			row[1] = strings.ToUpper(u.Email)
		}
		st.ByEmail++
	}

	if i%33 == 0 {
		// Already what the plan asks for: nothing is sent for it.
		row[3], row[4] = u.Department, u.Title
		st.Matching++
		return row
	}
	row[4] = pickOther(rng, demoTitles, u.Title)
	if rng.IntN(2) == 0 {
		row[3] = pickOther(rng, demoDepartments, u.Department)
	}
	if rng.IntN(10) == 0 && len(divisions) > 1 {
		current := ""
		if u.Division != nil {
			current = u.Division.ID
		}
		row[6] = pickOther(rng, divisions, current)
		st.Moves++
	}
	return row
}

// unknownRow names a user id that no directory holds.
func unknownRow(rng *rand.Rand) []string {
	id := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", rng.Uint32(), rng.Uint32()&0xffff,
		rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff)
	return []string{id, "", "", "", "Ghost Agent", "", ""}
}

// pickOther picks a value from choices that differs from current.
func pickOther(rng *rand.Rand, choices []string, current string) string {
	for range 8 {
		if c := choices[rng.IntN(len(choices))]; c != current {
			return c
		}
	}
	for _, c := range choices {
		if c != current {
			return c
		}
	}
	return current
}

// divisionsOf lists the division ids users belong to, sorted.
func divisionsOf(users []genesys.User) []string {
	seen := map[string]bool{}
	for _, u := range users {
		if u.Division != nil && u.Division.ID != "" {
			seen[u.Division.ID] = true
		}
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

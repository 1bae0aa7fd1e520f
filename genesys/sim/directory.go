package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/gcbulk/gcbulk/genesys"
)

// LoadDirectory reads users from a JSON Lines file in the API's own field
// names, one user a line; blank lines are skipped.
func LoadDirectory(path string) ([]genesys.User, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open directory: %w", err)
	}
	defer f.Close()

	var users []genesys.User
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var u genesys.User
		if err := json.Unmarshal(b, &u); err != nil {
			return nil, fmt.Errorf("decode directory line %d: %w", line, err)
		}
		if u.ID == "" {
			return nil, fmt.Errorf("decode directory line %d: %w: no id", line, errConfig)
		}
		users = append(users, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	return users, nil
}

var (
	firstNames = []string{
		"Maddison", "Elmore", "Carlo", "Joachim", "Reina", "Ercole", "Amélie", "Søren",
		"Zoë", "Mateus", "Aiko", "Priya", "Liam", "Noémie", "Jürgen", "Fatima",
		"Tomás", "Olga", "Kwame", "Ingrid", "Chloé", "Raúl", "Hana", "Björn",
	}
	lastNames = []string{
		"Wiegand", "Dietrich", "Kemper", "Arnaud", "Sáenz", "Cuomo", "Dubois", "Müller",
		"Nakamura", "Okafor", "Lindqvist", "Sharma", "Gonçalves", "Kowalski", "Brennan",
		"Haddad", "Ortega", "Nováková", "Mensah", "Østergaard", "Lefèvre", "Yılmaz",
	}
	departments = []string{
		"Sales, APAC", "Quality Assurance", "Partner Desk", "Support", "Billing",
		"Outbound", "Chat Team", "Training", "Workforce Management", "Retention",
	}
	titles = []string{
		"Agent", "Senior Agent", "Team Lead", "Technical Specialist",
		"Workforce Analyst", "Bilingual Agent (ES/EN)", "Quality Analyst",
	}
)

// Generate returns n realistic, active users, the same for the same n and
// seed. The first n/100 users (at least 1, at most 50) are managers; every
// other user reports to one of them. Users are spread over Divisions.
func Generate(n int, seed int64) []genesys.User {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x64697265))
	managers := min(50, max(1, n/100))
	users := make([]genesys.User, 0, max(0, n))
	seen := make(map[string]int, n)
	for i := range n {
		first := firstNames[rng.IntN(len(firstNames))]
		last := lastNames[rng.IntN(len(lastNames))]
		email := emailFor(first, last, seen)
		div := Divisions[rng.IntN(len(Divisions))]
		u := genesys.User{
			ID:            uuid(rng),
			Name:          first + " " + last,
			Email:         email,
			Username:      email,
			Department:    departments[rng.IntN(len(departments))],
			Title:         titles[rng.IntN(len(titles))],
			Division:      &genesys.Division{ID: div.ID, Name: div.Name},
			State:         "active",
			Version:       1 + rng.IntN(30),
			AcdAutoAnswer: new(bool),
		}
		if i < managers {
			u.Title = "Operations Manager"
		} else {
			u.Manager = &genesys.Ref{ID: users[rng.IntN(managers)].ID}
		}
		users = append(users, u)
	}
	return users
}

// emailFor returns a unique example.com address for a name.
func emailFor(first, last string, seen map[string]int) string {
	local := asciiFold(strings.ToLower(first + "." + last))
	seen[local]++
	if k := seen[local]; k > 1 {
		local = fmt.Sprintf("%s%d", local, k)
	}
	return local + "@example.com"
}

// asciiFold drops the accents the name tables use.
func asciiFold(s string) string {
	return strings.NewReplacer(
		"á", "a", "à", "a", "ç", "c", "é", "e", "è", "e", "ë", "e", "ı", "i",
		"ö", "o", "ø", "o", "ü", "u", "ú", "u", "å", "a",
	).Replace(s)
}

// uuid returns a version 4 UUID drawn from rng.
func uuid(rng *rand.Rand) string {
	a, b := rng.Uint64(), rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
		uint32(a>>32), uint16(a>>16), uint16(a)&0xfff, uint16(b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}

package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRecord_RoundTrip(t *testing.T) {
	t.Parallel()
	it := &Item{
		Seq: 7, Lines: []int{3, 90}, KeyKind: KeyEmail, Key: "Ana.Perez@Example.com",
		UserID: uuidFor(7), Desired: map[string]string{"name": "Ana Pérez"}, State: Applied,
		NextAt: epoch, Attempts: 2, HTTPStatus: 200, CorrelationIDs: []string{"c1", "c2"},
		Before: map[string]string{"name": "Ana Perez"}, VersionAfter: 12,
		History: []Attempt{{At: epoch, Op: "patch", Status: 200, Outcome: "ok", CorrelationID: "c2"}},
	}
	b, err := encodeItem(it)
	require.NoError(t, err)
	require.Equal(t, recordV1, b[0])

	got, err := decodeItem(b)
	require.NoError(t, err)
	require.Equal(t, it, got)
}

func TestRecord_DecodeRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"newer version", append([]byte{2}, `{"seq":1}`...), ErrUnknownVersion},
		{"bad json", append([]byte{1}, `{"seq":`...), ErrCorrupt},
		{"bad state", append([]byte{1}, `{"seq":1,"state":99,"key_kind":1}`...), ErrCorrupt},
		{"no key kind", append([]byte{1}, `{"seq":1,"state":1}`...), ErrCorrupt},
		{"negative attempts", append([]byte{1}, `{"state":1,"key_kind":1,"attempts":-1}`...), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeItem(tt.in)
			require.ErrorIs(t, err, tt.want)
		})
	}
	_, err := decodeItem([]byte{9})
	require.ErrorContains(t, err, "format version 9, this build reads up to 1")
}

func TestDueKey_Order(t *testing.T) {
	t.Parallel()
	keys := [][]byte{
		dueKey(time.Time{}, 9),
		dueKey(time.Unix(-5, 0), 1),
		dueKey(epoch, 2),
		dueKey(epoch, 10),
		dueKey(epoch.Add(time.Nanosecond), 1),
		dueKey(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), 1),
	}
	require.Equal(t, uint64(0), dueNanos(time.Unix(-5, 0)))
	for i := 2; i < len(keys); i++ {
		require.Negative(t, compareBytes(keys[i-1], keys[i]), "key %d", i)
	}
}

func compareBytes(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return len(a) - len(b)
}

func FuzzDecodeItem(f *testing.F) {
	it := newItem(3, epoch)
	it.Seq = 4
	good, err := encodeItem(it)
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{2, '{', '}'})
	f.Add(append([]byte{1}, `{"state":1,"key_kind":2,"history":[{"at":"x"}]}`...))

	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := decodeItem(b)
		if err != nil {
			return
		}
		// Whatever decodes must survive a round trip unchanged.
		again, err := encodeItem(it)
		require.NoError(t, err)
		it2, err := decodeItem(again)
		require.NoError(t, err)
		require.Equal(t, it, it2)
	})
}

package bridge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// bulkBenchSize is the number of users one round creates.
const bulkBenchSize = 1000

// BenchmarkBulkCreate1000 compares one round of 1,000 user creates sent as
// 1,000 POSTs one after the other (as an IdP provisions), as 1,000 POSTs from
// benchProvisionClients concurrent clients, and as one /Bulk request. ns/op is one round; each
// variant starts from an empty store of its own. Run:
//
//	go test -run '^$' -bench BulkCreate1000 -benchtime 10x -count 5 ./bridge/
func BenchmarkBulkCreate1000(b *testing.B) {
	benchBackends(b, func(b *testing.B, redisURL string) {
		round := 0
		user := func(prefix string, i int) map[string]any {
			return userDoc(fmt.Sprintf("%s%05d", prefix, i), "displayName", "Bulk User",
				"name", map[string]any{"givenName": "Bulk", "familyName": "User"})
		}
		b.Run("posts-sequential", func(b *testing.B) {
			env := newBenchEnv(b, redisDB(redisURL, 1), map[string]int{"acme": 0})
			b.ReportAllocs()
			for b.Loop() {
				round++
				prefix := fmt.Sprintf("seq%d-", round)
				for i := range bulkBenchSize {
					body, _ := json.Marshal(user(prefix, i))
					if err := env.do("acme", http.MethodPost, "/Users", body, http.StatusCreated); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run("posts-concurrent", func(b *testing.B) {
			env := newBenchEnv(b, redisDB(redisURL, 2), map[string]int{"acme": 0})
			b.ReportAllocs()
			for b.Loop() {
				round++
				prefix := fmt.Sprintf("par%d-", round)
				err := forEachGroup(bulkBenchSize, func(i int) error {
					body, _ := json.Marshal(user(prefix, i))
					return env.do("acme", http.MethodPost, "/Users", body, http.StatusCreated)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("bulk", func(b *testing.B) {
			env := newBenchEnv(b, redisDB(redisURL, 3), map[string]int{"acme": 0})
			b.ReportAllocs()
			for b.Loop() {
				round++
				prefix := fmt.Sprintf("bulk%d-", round)
				ops := make([]map[string]any, bulkBenchSize)
				for i := range ops {
					ops[i] = bulkOp("POST", "/Users", fmt.Sprint(i), user(prefix, i))
				}
				body, _ := json.Marshal(bulkDoc(0, ops...))
				if err := env.do("acme", http.MethodPost, "/Bulk", body, http.StatusOK); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

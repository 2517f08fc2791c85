package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestZZScriptCost(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	const n = 100000
	s := openTestStore(t, redistestStart(t))
	ctx := context.Background()
	resBulkLoadUsers(t, s, "acme", 0, n)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = resBenchUser(i).ID
	}
	resCreate(t, s, "acme", resGroup("g", "All"))
	s.rdb.ConfigResetStat(ctx)
	for i := 0; i < n/50; i++ {
		if _, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Add: memberIDs(ids[i*50 : i*50+50]...)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	info, _ := s.rdb.Info(ctx, "commandstats").Result()
	for _, l := range strings.Split(info, "\n") {
		if strings.Contains(l, "calls=") {
			fmt.Println(strings.TrimSpace(l))
		}
	}
	s.rdb.ConfigResetStat(ctx)
	for i := 0; i < n/50; i++ {
		if _, err := s.PatchGroup(ctx, "acme", "g", GroupPatch{Remove: ids[i*50 : i*50+50]}, 0); err != nil {
			t.Fatal(err)
		}
	}
	info, _ = s.rdb.Info(ctx, "commandstats").Result()
	for _, l := range strings.Split(info, "\n") {
		if strings.Contains(l, "calls=") {
			fmt.Println(strings.TrimSpace(l))
		}
	}
}

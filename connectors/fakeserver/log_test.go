package fakeserver

import (
	"slices"
	"sync"
	"testing"
)

type entry struct {
	Method string
	Status int
}

func TestLog(t *testing.T) {
	t.Parallel()
	var l Log[entry]
	if l.Requests() != nil || l.Writes() != 0 || l.DuplicateWrites() != 0 {
		t.Fatal("zero Log is not empty")
	}
	l.Add(entry{"GET", 200})
	l.Add(entry{"POST", 201})
	l.CountWrite()
	l.CountWrite()
	l.CountDuplicate()
	got := l.Requests()
	if !slices.Equal(got, []entry{{"GET", 200}, {"POST", 201}}) || l.Writes() != 2 || l.DuplicateWrites() != 1 {
		t.Fatalf("log %v writes %d duplicates %d", got, l.Writes(), l.DuplicateWrites())
	}
	got[0].Status = 500 // a copy
	if l.Requests()[0].Status != 200 {
		t.Fatal("Requests shares the log")
	}
	l.Reset()
	if len(l.Requests()) != 0 || l.Writes() != 0 || l.DuplicateWrites() != 0 {
		t.Fatal("Reset left something")
	}
}

func TestLogConcurrent(t *testing.T) {
	t.Parallel()
	var l Log[entry]
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				l.Add(entry{"POST", 201})
				l.CountWrite()
				l.CountDuplicate()
				_ = l.Requests()
			}
		}()
	}
	wg.Wait()
	if len(l.Requests()) != 400 || l.Writes() != 400 || l.DuplicateWrites() != 400 {
		t.Fatalf("%d requests, %d writes, %d duplicates", len(l.Requests()), l.Writes(), l.DuplicateWrites())
	}
}

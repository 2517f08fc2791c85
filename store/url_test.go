package store

import (
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"redis://127.0.0.1:6379/0", true},
		{"rediss://user:pw@redis.example:6380/1", true},
		{"redis://a:6379?addr=b:6379&addr=c:6379", true},
		{"redis://s1:26379?master_name=mymaster&addr=s2:26379", true},
		{"unix:///var/run/redis.sock", true},
		{"redis://a:6379?bogus_option=1", false},
		{"http://a:6379", false},
		{"redis://user:hunter2-secret@a:6379?addr=b:1&unknown=x", false},
		{"redis://us er:hunter2-secret@%zz", false},
	} {
		err := CheckURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("CheckURL(%q) leaks the password: %v", tc.url, err)
		}
	}
}

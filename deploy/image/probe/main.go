// Command scim-bridge-probe is the container health check of the scim-bridge
// image, which has no shell and no curl: it GETs one URL and exits 0 when the
// answer is 2xx, 1 otherwise (Compose and Docker run it as HEALTHCHECK).
//
//	scim-bridge-probe [URL]    (default http://127.0.0.1:8080/readyz)
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	url := "http://127.0.0.1:8080/readyz"
	switch len(args) {
	case 0:
	case 1:
		url = args[0]
	default:
		fmt.Fprintln(stderr, "usage: scim-bridge-probe [URL]")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := probe(ctx, &http.Client{}, url); err != nil {
		fmt.Fprintf(stderr, "scim-bridge-probe: %v\n", err)
		return 1
	}
	return 0
}

// probe reports whether url answers a GET with a 2xx status before ctx ends.
func probe(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("request %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("get %s: status %d", url, resp.StatusCode)
	}
	return nil
}

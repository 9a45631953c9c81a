//go:build browser

// The browser test needs Chromium (Debian's package: /usr/bin/chromium, or
// $CHROMIUM); `make test-browser` runs it, and .ci/run installs Chromium
// first. It is kept out of `make test` so that a machine with only Go runs
// every other test.

package impl_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAPIReferenceRendersInABrowser loads /docs in headless Chromium,
// offline (only the test server is reachable), and checks that Redoc shows
// PATCH /me with the members of its body.
func TestAPIReferenceRendersInABrowser(t *testing.T) {
	ts := newTestServer(t)
	exe := os.Getenv("CHROMIUM")
	if exe == "" {
		exe = "/usr/bin/chromium"
	}
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("Chromium is needed at %s (set CHROMIUM to its path): %v", exe, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-sync", true),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	// Redoc renders each operation under an element whose id names it.
	section := chromedp.CSS(`[id="operation/updateMe"]`)
	if err := chromedp.Do(browser, chromedp.Navigate(ts.url+"/docs"), chromedp.WaitVisible(section)); err != nil {
		t.Fatalf("render /docs: %v", err)
	}
	title, err := chromedp.Run(browser, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(browser, chromedp.Text(section))
	if err != nil {
		t.Fatal(err)
	}
	if title == "" {
		t.Errorf("the page has no title")
	}
	for _, want := range []string{"Update the active user's profile", "PATCH", "/me", "first_name", "last_name", "username", "image_url", "If-Match"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PATCH /me section does not show %q; it reads:\n%.2000s", want, text)
		}
	}
	if strings.Contains(ts.logs.String(), `"level":"ERROR"`) {
		t.Errorf("the server logged errors while the page loaded:\n%s", ts.logs.String())
	}
}

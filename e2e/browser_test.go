package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds Debian's headless-capable Chromium (.ci/run installs it);
// without it the browser test skips, or fails under CI.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found: .ci/run installs Debian's chromium package")
	}
	t.Skip("chromium not found (apt-get install chromium)")
	return ""
}

// browserEdit logs in as the contractor in headless Chromium, opens the
// 障害票 from the list, checks the Japanese page, writes 原因・責任区分・
// 免責区分 and saves; a form whose CSRF token was removed is refused; the
// page fits a phone's width.
func browserEdit(ctx context.Context, t *testing.T, base string, id uint64) {
	t.Helper()
	bin := chromium(t)
	alloc, cancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium")))
	defer cancel()
	bctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			shot, _ := chromedp.Run(bctx, chromedp.FullScreenshot(80))
			if len(shot) > 0 {
				p := filepath.Join(t.TempDir(), "failure.jpg")
				os.WriteFile(p, shot, 0o644)
				t.Logf("screenshot of the page: %s", p)
			}
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		must("text of "+sel, err)
		return strings.TrimSpace(s)
	}

	must("open the list", chromedp.Do(bctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#username"))))
	title, err := chromedp.Run(bctx, chromedp.Title())
	must("title", err)
	if title != "ログイン - 防災メール 障害台帳" {
		t.Errorf("without a session the page is %q, want the login page", title)
	}
	must("log in", chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS("#username"), "uketaku"),
		chromedp.SendKeys(chromedp.CSS("#password"), "demo-uketaku"),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("table.incidents"))))
	if got := text("#whoami"); got != "受託者 当番（受託者）" {
		t.Errorf("logged in as %q", got)
	}
	row := fmt.Sprintf(`tr.incident[data-id="%d"]`, id)
	if got := text(row); !strings.Contains(got, "delivery") || !strings.Contains(got, "BosaiMailServiceDown") {
		t.Errorf("the list's row of 障害票 %d reads %q", id, got)
	}
	must("open the 障害票", chromedp.Do(bctx, chromedp.Click(chromedp.CSS(row+" a")), chromedp.WaitVisible(chromedp.CSS("#edit"))))
	if got := text("h1"); got != fmt.Sprintf("障害票 %d", id) {
		t.Errorf("heading %q", got)
	}
	if got := text("#service"); got != "delivery" {
		t.Errorf("サービス %q", got)
	}
	if got := text("#resolved"); !strings.Contains(got, "継続時間") {
		t.Errorf("復旧日時 %q, want the recovery and its duration", got)
	}

	// A form posted without its CSRF token is refused; nothing is saved.
	must("post without the CSRF token", chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS("#cause"), "トークンなしの送信"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.querySelector('#edit input[name=csrf_token]').remove(), true`)(ctx, tg)
			return err
		}),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#error"))))
	if got := text("#error"); !strings.Contains(got, "確認用トークン") {
		t.Errorf("a form without CSRF token shows %q", got)
	}

	must("edit and save", chromedp.Do(bctx,
		chromedp.Navigate(fmt.Sprintf("%s/incidents/%d", base, id)),
		chromedp.WaitVisible(chromedp.CSS("#edit")),
		chromedp.SetValue(chromedp.CSS("#cause"), "回線事業者の中継装置の故障"),
		chromedp.SetValue(chromedp.CSS("#action"), "回線事業者が中継装置を交換し、配信の再開を確認"),
		chromedp.SetValue(chromedp.CSS("#responsibility"), "回線事業者"),
		chromedp.SetValue(chromedp.CSS("#exemption"), "通信回線障害"),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#flash"))))
	if got := text("#flash"); got != "保存しました。" {
		t.Errorf("after saving: %q", got)
	}
	hist := text("#history")
	for _, want := range []string{"受託者 当番", "原因", "回線事業者の中継装置の故障", "責任区分", "免責区分"} {
		if !strings.Contains(hist, want) {
			t.Errorf("変更履歴 lacks %q: %s", want, hist)
		}
	}
	if strings.Contains(hist, "トークンなしの送信") {
		t.Errorf("the refused form was saved: %s", hist)
	}

	// Readable on a phone: nothing wider than the screen.
	must("phone viewport", chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#edit"))))
	fits, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
	must("page width", err)
	if !fits {
		t.Errorf("the 障害票 page is wider than a 390 px phone screen")
	}
}

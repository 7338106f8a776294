package report

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chromium finds a headless Chromium from Debian (chromium-headless-shell or chromium).
// Without one the test skips on a workstation but fails in CI, where .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium-headless-shell or chromium on PATH: CI must install it (apt-get install chromium-headless-shell) to check the report in a real browser")
	}
	t.Skip("no headless Chromium on PATH (apt-get install chromium-headless-shell); the report is not checked in a browser")
	return ""
}

// barBlue is the bars' fill, #0969da in the report's CSS; nothing else on the page has it.
var barBlue = color.RGBA{0x09, 0x69, 0xda, 0xff}

// TestReportInBrowser opens the report in headless Chromium with every network request
// refused, takes a screenshot, and finds the latency bars in its pixels: one column of the
// bars' blue per percentile, each as high as its value says.
func TestReportInBrowser(t *testing.T) {
	bin := chromium(t)
	r := failedRun()
	r.Document.EndToEnd = nil // only the latency chart is blue
	p := r.Document.Latency
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--user-data-dir="+filepath.Join(dir, "profile"),
		// No network: a page that fetched anything would miss it here.
		"--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
		"--hide-scrollbars", "--force-device-scale-factor=1", "--window-size=1000,4000",
		"--screenshot="+shot, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer func() { _ = f.Close() }()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	bars := blueColumns(img)
	want := []time.Duration{p.P50, p.P90, p.P95, p.P99, p.P999, p.Max}
	if len(bars) != len(want) {
		t.Fatalf("the screenshot shows %d bars, want %d (p50 to max): %v", len(bars), len(want), bars)
	}
	for i, h := range bars {
		wantH := float64(want[i]) / float64(p.Max) * plotHeight
		if math.Abs(float64(h)-wantH) > 2 {
			t.Errorf("bar %d is %d pixels high on the page, want %.1f (%v of max %v)", i, h, wantH, want[i], p.Max)
		}
	}
}

// blueColumns finds the bars: runs of adjacent pixel columns holding the bars' blue, and
// for each the height of blue in its middle column.
func blueColumns(img image.Image) []int {
	b := img.Bounds()
	blueIn := func(x int) int {
		n := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			if color.RGBAModel.Convert(img.At(x, y)) == barBlue {
				n++
			}
		}
		return n
	}
	var heights []int
	start := -1
	for x := b.Min.X; x <= b.Max.X; x++ {
		has := x < b.Max.X && blueIn(x) > 0
		switch {
		case has && start < 0:
			start = x
		case !has && start >= 0:
			heights = append(heights, blueIn((start+x-1)/2))
			start = -1
		}
	}
	return heights
}

package report

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// measureScript reports, for every chart over time, where its SVG is on the page and
// each line's rendered length and box, into a <pre id="measured"> that --dump-dom prints.
const measureScript = `<script>
const out = [];
for (const fig of document.querySelectorAll("figure.line-chart")) {
  const svg = fig.querySelector("svg");
  const r = svg.getBoundingClientRect();
  const lines = [];
  for (const p of svg.querySelectorAll("path.series")) {
    const b = p.getBBox();
    lines.push({name: p.dataset.name, stroke: getComputedStyle(p).stroke, length: p.getTotalLength(),
      x: b.x, y: b.y, w: b.width, h: b.height});
  }
  out.push({id: fig.id, left: r.left + window.scrollX, top: r.top + window.scrollY, width: r.width, height: r.height, lines});
}
const pre = document.createElement("pre");
pre.id = "measured";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>`

type measuredChart struct {
	ID                       string
	Left, Top, Width, Height float64
	Lines                    []struct {
		Name, Stroke string
		Length       float64
		X, Y, W, H   float64
	}
}

// runChromium runs headless Chromium on page with every network request refused.
func runChromium(t *testing.T, bin, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--user-data-dir=" + filepath.Join(dir, "profile"),
		"--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
		"--hide-scrollbars", "--force-device-scale-factor=1"}, args...)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, all...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	return stdout.Bytes()
}

// TestTimelineChartsInBrowser opens a report with its charts over time in headless
// Chromium, no network: in the page as laid out, every line of every chart has a
// rendered length and lies within its plot, and the screenshot shows each line's colour
// inside its chart's plot.
func TestTimelineChartsInBrowser(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, timelineRun(t), time.Now()); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// The measurement runs in a copy: the report itself has no script.
	measure := filepath.Join(dir, "measure.html")
	withScript := strings.Replace(buf.String(), "</body>", measureScript+"</body>", 1)
	if err := os.WriteFile(measure, []byte(withScript), 0o600); err != nil {
		t.Fatal(err)
	}
	// Both runs lay the page out in the same window, so the measured places are the
	// screenshot's.
	const window = "--window-size=1000,9000"
	dom := string(runChromium(t, bin, dir, window, "--dump-dom", "file://"+measure))
	_, after, ok := strings.Cut(dom, `<pre id="measured">`)
	raw, _, ok2 := strings.Cut(after, "</pre>")
	if !ok || !ok2 {
		t.Fatalf("the page's DOM has no measurement: the charts did not load\n%.2000s", dom)
	}
	var charts []measuredChart
	if err := json.Unmarshal([]byte(html.UnescapeString(raw)), &charts); err != nil {
		t.Fatalf("measurement %q: %v", raw, err)
	}
	want := map[string]int{"rate-series": 3, "latency-series": 3, "e2e-series": 2, "lag-series": 5, "dlq-series": 2}
	if len(charts) != len(want) {
		t.Fatalf("%d charts over time on the page, want %d: %+v", len(charts), len(want), charts)
	}
	for _, c := range charts {
		if len(c.Lines) != want[c.ID] {
			t.Errorf("%s: %d lines on the page, want %d", c.ID, len(c.Lines), want[c.ID])
		}
		if c.Width != lineWidth || c.Height != lineHeight {
			t.Errorf("%s: laid out %gx%g, want %dx%d", c.ID, c.Width, c.Height, lineWidth, lineHeight)
		}
		for _, l := range c.Lines {
			if l.Length < 100 || l.W < (linePlotRight-linePlotLeft)*0.9 || l.X < linePlotLeft || l.X+l.W > linePlotRight ||
				l.Y < linePlotTop-1 || l.Y+l.H > linePlotBottom+1 {
				t.Errorf("%s: line %s rendered %.0f long in box (%.0f,%.0f %.0fx%.0f); want across the plot (%d..%d, %d..%d)",
					c.ID, l.Name, l.Length, l.X, l.Y, l.W, l.H, linePlotLeft, linePlotRight, linePlotTop, linePlotBottom)
			}
		}
	}

	shot := filepath.Join(dir, "report.png")
	runChromium(t, bin, dir, window, "--screenshot="+shot, "file://"+page)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer func() { _ = f.Close() }()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range charts {
		plot := image.Rect(int(c.Left)+linePlotLeft+1, int(c.Top)+linePlotTop-2, int(c.Left)+linePlotRight, int(c.Top)+linePlotBottom-1)
		for _, l := range c.Lines {
			want, err := parseRGB(l.Stroke)
			if err != nil {
				t.Fatalf("%s: line %s: %v", c.ID, l.Name, err)
			}
			if n := pixelsOf(img, plot, want); n < 20 {
				t.Errorf("%s: line %s (%s) has %d pixels of its colour in the plot %v of the screenshot, want at least 20", c.ID, l.Name, l.Stroke, n, plot)
			}
		}
	}
}

// parseRGB reads a computed colour such as "rgb(26, 127, 55)".
func parseRGB(s string) (color.RGBA, error) {
	inner, ok := strings.CutPrefix(s, "rgb(")
	if !ok {
		return color.RGBA{}, strconv.ErrSyntax
	}
	parts := strings.Split(strings.TrimSuffix(inner, ")"), ",")
	if len(parts) != 3 {
		return color.RGBA{}, strconv.ErrSyntax
	}
	var c [3]uint8
	for i, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return color.RGBA{}, err
		}
		c[i] = uint8(v)
	}
	return color.RGBA{c[0], c[1], c[2], 0xff}, nil
}

// pixelsOf counts the pixels in r within a few levels of c per channel.
func pixelsOf(img image.Image, r image.Rectangle, c color.RGBA) int {
	near := func(a, b uint8) bool { return max(a, b)-min(a, b) <= 6 }
	n := 0
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			if near(p.R, c.R) && near(p.G, c.G) && near(p.B, c.B) {
				n++
			}
		}
	}
	return n
}

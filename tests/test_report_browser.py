"""The HTML report in a real browser: headless Chromium loads it with no console message,
and the rendered DOM holds the sections, the charts (laid out, in the SVG namespace) and the
escaped data. Chromium comes from Debian's package (``scripts/ensure_chromium.sh``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from test_report import EVIL_LAYER, EVIL_MESSAGE, make_run, parse
from torchdoctor.report import write_html_report

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)
if CHROMIUM is None:
    pytest.skip("chromium not installed (run scripts/ensure_chromium.sh, which uses apt-get)",
                allow_module_level=True)

# Console messages, uncaught exceptions and CSP refusals as Chromium logs them on stderr.
CONSOLE_RE = re.compile(r"CONSOLE[:(]|Uncaught|Refused to")

PROBE = """<script>
const charts = [...document.querySelectorAll('svg.chart')].map(s => {
  const r = s.getBoundingClientRect();
  return {kind: s.dataset.chart, w: r.width, h: r.height, ns: s.namespaceURI};
});
const lens = [...document.querySelectorAll('g.line > path')].map(p => p.getTotalLength());
const heat = document.querySelector('svg[data-chart=grad_heatmap] image').getBoundingClientRect();
const img = document.querySelector('svg[data-chart=grad_heatmap] image');
const out = {charts, nLines: lens.length, minLineLen: Math.min(...lens),
  heat: {w: heat.width, h: heat.height, px: img.href.baseVal.startsWith('data:image/png;base64,')},
  verdict: document.getElementById('verdict').textContent, scripts: document.scripts.length,
  evilText: document.body.textContent.includes(%s),
  bodyWidth: document.body.getBoundingClientRect().width};
const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
console.error('probe-sentinel');
</script>"""


def run_chromium(path: Path) -> tuple[str, list[str]]:
    """Load ``path`` in headless Chromium; return the rendered DOM and console log lines."""
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
             "--window-size=1400,1000", "--dump-dom", path.resolve().as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, [ln for ln in proc.stderr.splitlines() if CONSOLE_RE.search(ln)]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, dict]:
    run = make_run(layers=("stem.conv", EVIL_LAYER, "head.fc"))
    path = tmp_path_factory.mktemp("browser") / "report.html"
    write_html_report(path, title="browser <test>", summary={"steps": 200}, **run)
    return path, run


def test_report_loads_without_console_messages(report):
    path, _ = report
    dom, console = run_chromium(path)
    assert console == []
    p = parse(dom)
    assert {"summary", "findings", "training", "layers", "verdict"} <= p.ids
    assert not [t for t, _ in p.tags if t == "script"]
    charts = [a.get("data-chart") for t, a in p.tags if t == "svg"]
    assert len(charts) >= 8 and "grad_heatmap" in charts
    assert EVIL_LAYER in p.all_text and EVIL_MESSAGE in p.all_text
    assert "1 error, 1 warning" in p.all_text


def test_rendered_layout_and_console_detection(report, tmp_path):
    """A copy of the report with a probe script: measures the laid-out charts, and its
    deliberate console.error proves the console check above can fail."""
    path, _ = report
    html = path.read_text(encoding="utf-8")
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    probe = PROBE % json.dumps(EVIL_LAYER).replace("</", "<\\/")
    copy = tmp_path / "probe.html"
    copy.write_text(html.replace("</body>", probe + "</body>"), encoding="utf-8")
    dom, console = run_chromium(copy)
    assert len(console) == 1 and "probe-sentinel" in console[0]
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert m, "probe output missing from the rendered DOM"
    out = json.loads(m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    assert out["verdict"] == "1 error, 1 warning"
    assert out["scripts"] == 1 and out["evilText"] is True
    assert len(out["charts"]) >= 8
    for c in out["charts"]:
        assert c["ns"] == "http://www.w3.org/2000/svg", c
        assert c["w"] > 300 and c["h"] > 100, c
    assert out["nLines"] >= 8 and out["minLineLen"] > 10
    # the heat map (3 layers x 200 steps: one image of 3 x 200 pixels) fills its plot area
    assert out["heat"]["px"] and out["heat"]["w"] > 250 and out["heat"]["h"] > 30, out["heat"]

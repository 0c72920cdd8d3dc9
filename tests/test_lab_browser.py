"""The lab page in a real browser: every experiment run quick (as `lab all --quick` writes them), then headless
Chromium loads lab.html with no console message, and every experiment's section holds its
verdict and its figures, laid out, in the SVG namespace. Chromium comes from Debian's package
(``scripts/ensure_chromium.sh``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import torchdoctor as td
from conftest import quick_lab_result
from test_report import parse
from test_report_browser import run_chromium

pytestmark = pytest.mark.browser

PROBE = """<script>
const out = [...document.querySelectorAll('section[id^="exp-"]')].map(s => ({
  id: s.id,
  verdict: s.querySelector('.vb') ? s.querySelector('.vb').textContent : null,
  figs: [...s.querySelectorAll('figure > svg')].map(f => {
    const r = f.getBoundingClientRect();
    return {w: r.width, h: r.height, ns: f.namespaceURI, texts: f.querySelectorAll('text').length};
  }),
}));
const pre = document.createElement('pre'); pre.id = 'probe';
pre.textContent = JSON.stringify({sections: out, scripts: document.scripts.length,
  contents: document.querySelectorAll('#contents a').length});
document.body.appendChild(pre);
</script>"""


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lab")
    results = [quick_lab_result(n) for n in td.lab.EXPERIMENTS]  # shared with test_lab.py
    for r in results:
        td.lab.write_result(r, out)
    td.lab.write_lab_page(results, out)
    return out


def test_lab_page_loads_without_console_messages(lab_dir: Path) -> None:
    dom, console = run_chromium(lab_dir / td.lab.PAGE_FILE)
    assert console == []
    p = parse(dom)
    names = list(td.lab.EXPERIMENTS)
    assert {"contents", *(f"exp-{n}" for n in names)} <= p.ids
    assert not [t for t, _ in p.tags if t == "script"]
    for n in names:
        doc = json.loads((lab_dir / f"{n}.json").read_text(encoding="utf-8"))
        assert doc["verdict"] in p.all_text and doc["claim"] in p.all_text


def test_every_experiment_section_has_laid_out_figures(lab_dir: Path, tmp_path: Path) -> None:
    html = (lab_dir / td.lab.PAGE_FILE).read_text(encoding="utf-8")
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    copy = tmp_path / "probe.html"
    copy.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom, _ = run_chromium(copy)
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert m, "probe output missing from the rendered DOM"
    out = json.loads(m.group(1).replace("&quot;", '"').replace("&lt;", "<")
                     .replace("&gt;", ">").replace("&amp;", "&"))
    assert out["scripts"] == 1 and out["contents"] == len(td.lab.EXPERIMENTS)
    by_id = {s["id"]: s for s in out["sections"]}
    assert list(by_id) == [f"exp-{n}" for n in td.lab.EXPERIMENTS]
    for name in td.lab.EXPERIMENTS:
        s = by_id[f"exp-{name}"]
        assert s["verdict"] in td.lab.VERDICTS, s
        if s["verdict"] == "not available":
            continue
        assert s["figs"], f"{name}: no figure"
        for f in s["figs"]:
            assert f["ns"] == "http://www.w3.org/2000/svg", (name, f)
            assert f["w"] > 250 and f["h"] > 100 and f["texts"] > 3, (name, f)

"""The lab, generic: every registered experiment runs quick and yields a well-formed document
with its figures; the runner reports a failing experiment and goes on; the `lab` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import torchdoctor as td
from conftest import quick_lab_result, run_cli
from torchdoctor.cli import app
from torchdoctor.lab import Check, Context, Experiment, Outcome

RUNNER = CliRunner()

ISSUE_KEYS = {"name", "claim", "verdict", "summary", "table", "figures"}


def _check_document(doc: dict, exp: Experiment) -> None:
    assert ISSUE_KEYS <= set(doc)
    assert doc["name"] == exp.name and doc["claim"] == exp.claim
    assert doc["verdict"] in td.lab.VERDICTS
    assert isinstance(doc["summary"], str) and doc["summary"] and "\n" not in doc["summary"]
    assert isinstance(doc["table"], list) and all(isinstance(r, dict) for r in doc["table"])
    for row in doc["table"]:
        assert all(isinstance(v, (int, float, str)) for v in row.values()), row
    assert doc["figures"] == sorted(set(doc["figures"]), key=doc["figures"].index)
    if doc["verdict"] != "not available":
        assert doc["figures"], f"{exp.name}: at least one figure"
        assert doc["table"] and doc["checks"]
        passed = [c["passed"] for c in doc["checks"]]
        want = "reproduced" if all(passed) else "not reproduced" if not any(passed) else "partly"
        assert doc["verdict"] == want  # the verdict is the checks', not written by hand


def test_registry_is_ordered_and_well_formed() -> None:
    exps = list(td.lab.EXPERIMENTS.values())
    assert [e.order for e in exps] == sorted(e.order for e in exps)
    assert {"init_depth", "grad_depth", "norm_batch", "bn_eval", "gan_tricks"} <= set(td.lab.EXPERIMENTS)
    for e in exps:
        assert e.claim.strip() and e.reference.strip() and e.setup.strip()
        assert e.name == e.name.lower() and " " not in e.name


@pytest.mark.parametrize("name", list(td.lab.EXPERIMENTS))
def test_every_experiment_runs_quick(name: str, tmp_path: Path) -> None:
    exp = td.lab.EXPERIMENTS[name]
    result = quick_lab_result(name)
    assert result.seeds == 1 and result.quick
    doc = result.to_json()
    _check_document(doc, exp)
    json.dumps(doc, allow_nan=True)  # plain data
    path = td.lab.write_result(result, tmp_path)
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk["name"] == name
    for f in doc["figures"]:
        svg = (tmp_path / f).read_text(encoding="utf-8")
        assert svg.lstrip().startswith("<svg") and svg.rstrip().endswith("</svg>")


def _boom(ctx: Context) -> Outcome:
    raise RuntimeError("deliberate\nfailure")


def _fine(ctx: Context) -> Outcome:
    from torchdoctor.report.charts import figure

    fig, ax = figure(width=3, height=2)
    ax.plot([0, 1], [1, 0])
    ctx.figure(fig, "line", "a <line> & caption")
    ctx.progress("drew it")
    return Outcome([Check("one", True, "1 > 0"), Check("two", False)], "one of two",
                   [{"x": 1, "y": "<b>"}])


BOOM = Experiment("boom_case", "it <raises>", "nobody 2024", "a setup", _boom, order=1)
FINE = Experiment("fine_case", "it works", "nobody 2024", "a setup", _fine, order=2)


def test_a_failing_experiment_is_reported_and_the_others_go_on(tmp_path: Path,
                                                               monkeypatch) -> None:
    monkeypatch.setitem(td.lab.EXPERIMENTS, "boom_case", BOOM)
    monkeypatch.setitem(td.lab.EXPERIMENTS, "fine_case", FINE)
    seen, ticks = [], []
    results = td.lab.run_all(tmp_path, quick=True, jobs=1, names=["boom_case", "fine_case"],
                             on_result=lambda r: seen.append(r.experiment.name),
                             tick=lambda n, w: ticks.append((n, w)))
    assert seen == ["boom_case", "fine_case"] and ticks == [("fine_case", "drew it")]
    boom = json.loads((tmp_path / "boom_case.json").read_text(encoding="utf-8"))
    assert boom["verdict"] == "not available"
    assert boom["error"] == "RuntimeError: deliberate failure"
    fine = json.loads((tmp_path / "fine_case.json").read_text(encoding="utf-8"))
    assert fine["verdict"] == "partly" and fine["figures"] == ["fine_case-line.svg"]
    page = (tmp_path / td.lab.PAGE_FILE).read_text(encoding="utf-8")
    assert "RuntimeError: deliberate failure" in page and "not available" in page
    assert "it &lt;raises&gt;" in page and "<b>" not in page and "&lt;b&gt;" in page
    assert "<script" not in page and page.count("<svg") == 1
    assert [r.outcome.verdict for r in results] == ["not available", "partly"]


def test_worker_processes_give_the_same_documents(tmp_path: Path) -> None:
    exps = [FINE, BOOM]
    serial = td.lab.run_many(exps, quick=True, jobs=1)
    parallel = td.lab.run_many(exps, quick=True, jobs=2)
    for a, b in zip(serial, parallel, strict=True):
        da, db = a.to_json(), b.to_json()
        da.pop("seconds"), db.pop("seconds")
        assert da == db
    assert [f.svg for f in serial[0].figures] == [f.svg for f in parallel[0].figures]


def test_bad_arguments_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown experiment 'nope'; allowed: init_depth"):
        td.lab.run("nope")
    with pytest.raises(ValueError, match="seeds = 0"):
        td.lab.run("gan_tricks", seeds=0)
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        td.lab.run_all(tmp_path / "f", names=["gan_tricks"])


def test_cli_runs_an_experiment_through_the_console_script(tmp_path: Path) -> None:
    r = run_cli("lab", "init_depth", "--quick", "--json", "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # exactly one document
    _check_document(doc, td.lab.EXPERIMENTS["init_depth"])
    assert (tmp_path / "o" / "init_depth.json").is_file()
    assert all((tmp_path / "o" / f).read_text(encoding="utf-8").startswith("<svg")
               for f in doc["figures"])


def test_cli_lists_the_experiments() -> None:
    r = RUNNER.invoke(app, ["lab", "--json"])
    assert r.exit_code == 0, r.output
    listing = json.loads(r.stdout)
    assert listing == [{"name": e.name, "claim": e.claim} for e in td.lab.EXPERIMENTS.values()]
    r = RUNNER.invoke(app, ["lab"])
    assert r.exit_code == 0 and all(name in r.stdout for name in td.lab.EXPERIMENTS)


def test_cli_all_writes_the_page_and_one_document_per_experiment(tmp_path: Path,
                                                                 monkeypatch) -> None:
    monkeypatch.setitem(td.lab.__dict__, "EXPERIMENTS", {"fine_case": FINE, "boom_case": BOOM})
    r = RUNNER.invoke(app, ["lab", "all", "--quick", "--jobs", "1", "--json", "--out",
                            str(tmp_path)])
    assert r.exit_code == 0, r.output
    docs = json.loads(r.stdout)
    assert [d["name"] for d in docs] == ["fine_case", "boom_case"]
    assert [d["verdict"] for d in docs] == ["partly", "not available"]
    assert {p.name for p in tmp_path.iterdir()} == {"lab.html", "fine_case.json",
                                                    "fine_case-line.svg", "boom_case.json"}


@pytest.mark.parametrize(("args", "words"), [
    (("lab", "nope"), "unknown experiment 'nope'"),
    (("lab", "init_depth", "--seeds", "0"), "--seeds 0"),
    (("lab", "all", "--jobs", "0"), "--jobs 0"),
    (("lab", "all", "--out", "FILE"), "is a file"),
])
def test_cli_refuses_bad_input_in_one_line(args: tuple[str, ...], words: str,
                                           tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    r = RUNNER.invoke(app, [str(tmp_path / "f") if a == "FILE" else a for a in args])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], r.stderr
    assert "Traceback" not in r.output


def test_a_verdict_is_the_checks_or_not_available() -> None:
    checks = [Check("a", True), Check("b", False)]
    assert Outcome(checks, "s", []).verdict == "partly"
    assert Outcome([], "s", [], verdict="not available").verdict == "not available"
    with pytest.raises(ValueError, match="disagrees with the checks"):
        Outcome(checks, "s", [], verdict="reproduced")
    with pytest.raises(ValueError, match="allowed: reproduced"):
        Outcome(checks, "s", [], verdict="great")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one check"):
        Outcome([], "s", [])


def test_a_module_that_fails_to_import_is_reported_not_fatal(tmp_path: Path, monkeypatch) -> None:
    """A broken experiment module becomes a `not available` entry; the others stay listed."""
    import importlib

    import torchdoctor.lab.experiments as pkg

    real_import = importlib.import_module
    first = next(iter(td.lab.EXPERIMENTS.values()))
    victim = next(m for m in sorted(p.stem for p in Path(pkg.__path__[0]).glob("e*.py"))
                  if m.endswith(first.name))

    def fake(name: str, *a, **k):
        if name.endswith("." + victim):
            raise SyntaxError("broken on purpose")
        return real_import(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", fake)
    found = td.lab.discover()
    assert set(found) == set(td.lab.EXPERIMENTS) and found[first.name].order == first.order
    result = td.lab.run_many([found[first.name]], quick=True)[0]
    assert result.outcome.verdict == "not available"
    assert "SyntaxError: broken on purpose" in result.error

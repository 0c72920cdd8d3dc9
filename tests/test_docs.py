"""The docs in the repository: generated pages match their sources, every key and option is
documented, every relative link of the Markdown files resolves inside the repository, and no
user-visible text cites the team's notes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from torchdoctor.cli import app
from torchdoctor.docs import GENERATED, stale_pages
from torchdoctor.train.config import Config

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REGENERATE = "python -m torchdoctor.docs"


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_committed_generated_page_is_up_to_date(name: str) -> None:
    path = DOCS / name
    assert path.is_file(), f"docs/{name} is missing: run `{REGENERATE}`"
    assert path.read_text(encoding="utf-8") == GENERATED[name](), (
        f"docs/{name} is out of date with its source: run `{REGENERATE}` and commit the result")


def test_every_config_key_has_a_meaning_and_a_row() -> None:
    text = (DOCS / "config.md").read_text(encoding="utf-8")
    keys = []
    for name, field in Config.model_fields.items():
        sub = getattr(field.annotation, "model_fields", None)
        assert field.description, f"config key {name} has no description in the schema"
        if sub is None:
            keys.append(name)
            continue
        for key, f in sub.items():
            assert f.description, f"config key {name}.{key} has no description in the schema"
            keys.append(f"{name}.{key}")
    dumped = Config().to_dict()  # independent count: the keys a dumped default config has
    assert len(keys) == sum(len(v) if isinstance(v, dict) else 1 for v in dumped.values())
    for key in keys:
        assert f"| `{key}` |" in text, key


def test_every_command_and_option_is_documented() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    assert {"train", "diagnose", "repair", "checkup", "report", "demo"} <= set(commands)
    for name, cmd in commands.items():
        assert f"## `torchdoctor {name}`" in text
        for p in cmd.params:
            for opt in getattr(p, "opts", []):
                if opt.startswith("-"):
                    assert f"`{opt}`" in text, (name, opt)


def test_the_check_mode_exits_1_on_a_drifted_page(tmp_path: Path) -> None:
    (tmp_path / "config.md").write_text("old", encoding="utf-8")
    assert set(stale_pages(tmp_path)) == set(GENERATED)
    r = subprocess.run([sys.executable, "-m", "torchdoctor.docs", "--check", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and f"run {REGENERATE}" in r.stderr
    r = subprocess.run([sys.executable, "-m", "torchdoctor.docs", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and stale_pages(tmp_path) == []


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted((ROOT / "examples").glob("*.md"))]


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(path: Path) -> None:
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor of the same page
        resolved = (path.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{path.name} links {target}, outside the repository"
        assert resolved.exists(), f"{path.name} links {target}, which does not exist"


def test_docs_index_links_every_page() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in sorted(DOCS.glob("*.md")):
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not link {page.name}"


CITATION = re.compile(r"DESIGN\.md|MISSION|seed 00|\b00[0-4] §|issue [0-9]")


def test_no_user_visible_text_cites_the_teams_notes() -> None:
    files = [*sorted((ROOT / "src").rglob("*.py")), ROOT / "README.md", *sorted(DOCS.rglob("*.md")),
             *sorted((ROOT / "examples").rglob("*.py")), *sorted((ROOT / "examples").rglob("*.md"))]
    bad = []
    for path in files:
        rel = str(path.relative_to(ROOT))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if CITATION.search(line):
                bad.append(f"{rel}:{n}: {line.strip()[:90]}")
    assert not bad, "cite papers or docs/ instead:\n" + "\n".join(bad)

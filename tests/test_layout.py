"""The package's import graph, read with ``ast`` (nothing is imported):

- no import cycle among ``torchdoctor`` modules (module-level imports only: an import inside a
  function runs later, when every module is loaded);
- no module imports a private name (a ``_x`` module or attribute) owned by another package of
  ours. A private name belongs to the package that holds it (``torchdoctor.report._svg``
  belongs to ``torchdoctor.report``); modules inside that package (or its subpackages) may
  use it, nobody else.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = "torchdoctor"

#: Private names one package of ours may import from another: none.
ALLOWED_PRIVATE: set[tuple[str, str]] = set()
ALLOWED_CYCLES: list[tuple[str, ...]] = []


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted((SRC / PKG).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return name in MODULES and MODULES[name].name == "__init__.py"


def _imports(name: str, *, top_level_only: bool) -> list[tuple[str, str | None]]:
    """``(module, attribute or None)`` for each ``torchdoctor`` import of module ``name``.

    ``from a.b import c`` gives ``("a.b.c", None)`` when ``a.b.c`` is a module of ours, else
    ``("a.b", "c")``. Relative imports are resolved. With ``top_level_only``, imports inside
    functions and under ``if TYPE_CHECKING:`` are left out.
    """
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    nodes: list[ast.AST] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if top_level_only and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if (top_level_only and isinstance(child, ast.If)
                    and "TYPE_CHECKING" in ast.unparse(child.test)):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                nodes.append(child)
            visit(child)

    visit(tree)
    out: list[tuple[str, str | None]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.split(".")[0] == PKG]
            continue
        assert isinstance(node, ast.ImportFrom)
        if node.level:
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            mod = ".".join(base + ([node.module] if node.module else []))
        else:
            mod = node.module or ""
        if mod.split(".")[0] != PKG:
            continue
        for alias in node.names:
            sub = f"{mod}.{alias.name}"
            out.append((sub, None) if sub in MODULES else (mod, alias.name))
    return out


def _owner(dotted: str) -> str | None:
    """The package owning the first private segment of ``dotted`` (None: all public)."""
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            holder = ".".join(parts[:i])
            return holder if _is_package(holder) else holder.rpartition(".")[0]
    return None


def private_imports() -> list[tuple[str, str]]:
    """``(importer, private name)`` pairs crossing a package boundary, sorted."""
    bad = set()
    for name in MODULES:
        for mod, attr in _imports(name, top_level_only=False):
            dotted = f"{mod}.{attr}" if attr else mod
            owner = _owner(dotted)
            if owner is not None and not (name == owner or name.startswith(owner + ".")):
                bad.add((name, dotted))
    return sorted(bad)


def import_cycles() -> list[tuple[str, ...]]:
    """Every cycle of module-level imports, as the strongly connected components (> 1 module)."""
    graph = {name: sorted({m for m, _ in _imports(name, top_level_only=True) if m in MODULES and m != name})
             for name in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    comps: list[tuple[str, ...]] = []

    def strong(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(tuple(sorted(comp)))

    for v in graph:
        if v not in index:
            strong(v)
    return sorted(comps)


def test_the_checker_sees_the_package() -> None:
    assert len(MODULES) > 50
    assert ("torchdoctor.report", "write_html_report") in _imports("torchdoctor.doctor._doctor",
                                                                    top_level_only=False)
    assert _owner("torchdoctor.report._svg.line_chart") == "torchdoctor.report"
    assert _owner("torchdoctor.report.render_page") is None


def test_no_import_cycle() -> None:
    cycles = [c for c in import_cycles() if c not in ALLOWED_CYCLES]
    assert not cycles, "import cycles among modules (module-level imports):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_no_module_imports_a_private_name_of_another_package() -> None:
    bad = [p for p in private_imports() if p not in ALLOWED_PRIVATE]
    assert not bad, "private names imported across packages (export them or move the code):\n" + \
        "\n".join(f"{importer}: {name}" for importer, name in bad)


def test_allow_lists_hold_only_live_offenders() -> None:
    fixed = sorted(ALLOWED_PRIVATE - set(private_imports()))
    assert not fixed, f"fixed, remove from ALLOWED_PRIVATE: {fixed}"
    gone = sorted(set(ALLOWED_CYCLES) - set(import_cycles()))
    assert not gone, f"fixed, remove from ALLOWED_CYCLES: {gone}"

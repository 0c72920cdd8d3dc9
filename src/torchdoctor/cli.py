"""The ``torchdoctor`` command line (DESIGN.md, Part 2 "CLI").

Exit codes: 0 ran (whatever was found), 2 bad input (one line naming the problem).
With ``--json`` stdout holds exactly one JSON document.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="torchdoctor: makes PyTorch training work.")

CONFIG_HELP = "YAML config (DESIGN.md keys); omitted keys take their defaults."
SET_HELP = "Override one config key: --set train.lr=0.1 (dotted path, YAML-typed value)."


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with code 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def emit_json(doc: Any) -> None:
    """Write exactly one JSON document to stdout."""
    sys.stdout.write(json.dumps(doc, indent=2, allow_nan=False, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def _show_progress(quiet: bool) -> bool:
    return not quiet and sys.stdout.isatty()


@app.command()
def train(
    config: Optional[Path] = typer.Argument(None, help=CONFIG_HELP),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/<time>-<name>)."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue a killed run from its directory."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no summary."),
    no_doctor: bool = typer.Option(False, "--no-doctor", help="Train without the Doctor attached."),
) -> None:
    """Train a config; write config.yaml, metrics.jsonl and checkpoint.pt to the run directory."""
    from torchdoctor.workflows import run_training

    try:
        result = run_training(config, overrides=set_, out=out, resume=resume,
                              progress=_show_progress(quiet), doctor=not no_doctor, quiet=quiet)
    except ValueError as exc:
        fail(str(exc))
    if not quiet:
        m = result.metrics
        shown = ", ".join(f"{k} {v:.4f}" for k, v in m.items() if isinstance(v, float) and k.startswith("val_"))
        typer.echo(f"run directory: {result.run_dir}\nfinal: {shown}")


@app.command()
def demo(
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for the demo runs (default runs/demo-<time>)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Train the healthy default digits config and a deliberately broken one; write both reports."""
    from torchdoctor.workflows import run_demo

    try:
        run_demo(out, progress=_show_progress(quiet), quiet=quiet)
    except ValueError as exc:
        fail(str(exc))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()

"""The ``torchdoctor`` command line.

Exit codes: 0 ran (whatever was found), 2 bad input (one line naming the problem), 130
interrupted by Ctrl-C (a training prints how to resume it).
With ``--json`` stdout holds exactly one JSON document.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer

from torchdoctor import rundir

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="torchdoctor: makes PyTorch training work.")

CONFIG_HELP = "YAML config (keys in docs/config.md); omitted keys take their defaults."
SET_HELP = "Override one config key: --set train.lr=0.1 (dotted path, YAML-typed value)."


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr (one line) and exit with code 2."""
    one_line = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    typer.echo(f"error: {one_line}", err=True)
    raise typer.Exit(2)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn bad input into ``fail``: ValueError (our checks), OSError (a path, a full disk),
    MemoryError (a size our bounds let through)."""
    try:
        yield
    except ValueError as exc:
        fail(str(exc))
    except OSError as exc:
        where = f"{rundir.show(str(exc.filename))}: " if exc.filename else ""
        fail(f"{where}{exc.strerror or type(exc).__name__}")
    except MemoryError:
        fail("out of memory: lower the data or model size (model.width, model.depth, target.size)")


def emit_json(doc: Any) -> None:
    """Write exactly one JSON document to stdout (non-finite numbers as the run directory
    writes them: ``"nan"``, ``"inf"``, ``"-inf"``)."""
    text = json.dumps(rundir.jsonable(doc), indent=2, allow_nan=False, default=_json_default)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def _gan_shown(m: dict[str, Any]) -> str:
    """A GAN run's final metrics in one line (task gan has no validation metrics)."""
    parts = [f"modes {m['modes']}/{m['num_modes']}"] if "modes" in m and "num_modes" in m else []
    parts += [f"{k.replace('_', ' ')} {m[k]:.4f}" for k in ("high_quality", "coverage")
              if isinstance(m.get(k), float)]
    return ", ".join(parts)


def _show_progress(quiet: bool) -> bool:
    return not quiet and sys.stdout.isatty()


@app.command()
def train(
    config: Optional[Path] = typer.Argument(None, help=CONFIG_HELP),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/<time>-<name>)."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue a killed or interrupted run from its directory."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run that --out holds (without it such an --out is refused)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no summary."),
    no_doctor: bool = typer.Option(False, "--no-doctor", help="Train without the Doctor attached."),
) -> None:
    """Train a config; write config.yaml, metrics.jsonl and checkpoint.pt to the run directory."""
    from torchdoctor.workflows import TrainingInterrupted, run_training

    try:
        with user_errors():
            result = run_training(config, overrides=set_, out=out, resume=resume,
                                  overwrite=overwrite, progress=_show_progress(quiet),
                                  doctor=not no_doctor, quiet=quiet)
    except TrainingInterrupted as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(130) from None
    if not quiet:
        m = result.metrics
        shown = ", ".join(f"{k} {v:.4f}" for k, v in m.items() if isinstance(v, float) and k.startswith("val_"))
        typer.echo(f"run directory: {result.run_dir}\nfinal: {shown or _gan_shown(m)}")


@app.command()
def demo(
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for the demo runs (default runs/demo-<time>)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Train the healthy default digits config and a deliberately broken one; write both reports."""
    from torchdoctor.workflows import run_demo

    with user_errors():
        run_demo(out, progress=_show_progress(quiet), quiet=quiet)


@app.command()
def diagnose(
    config: Optional[Path] = typer.Argument(None, help=CONFIG_HELP),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    json_: bool = typer.Option(False, "--json", help="Print exactly one JSON document on stdout."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epochs of the budgeted run (default: half of train.epochs, at least 3)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also keep the run directory (logs and report) here."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run that --out holds."),
) -> None:
    """A short budgeted training with the Doctor attached: findings, evidence and remedies."""
    from torchdoctor.workflows import run_diagnose

    with user_errors():
        findings, metrics = run_diagnose(config, overrides=set_, epochs=epochs, out=out,
                                         overwrite=overwrite)
    if json_:
        emit_json({"findings": [f.to_dict() for f in findings], "metrics": metrics})
        return
    from torchdoctor.report import print_summary

    print_summary([f.to_dict() for f in findings], metrics=metrics)


@app.command()
def repair(
    config: Optional[Path] = typer.Argument(None, help=CONFIG_HELP),
    rounds: int = typer.Option(3, "--rounds", min=0, help="Rounds of candidates at most."),
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for repair.json, the configs and report.html."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    json_: bool = typer.Option(False, "--json", help="Print exactly one JSON document on stdout."),
) -> None:
    """Diagnose, apply remedies as config patches, retrain, keep what helps; then train fully."""
    from torchdoctor.workflows import run_repair

    log = None if json_ else typer.echo
    with user_errors():
        result, out_dir = run_repair(config, overrides=set_, rounds=rounds, out=out, log=log)
    doc = result.to_json()
    if json_:
        emit_json(doc)
        return
    typer.echo(f"applied: {', '.join(doc['applied']) or 'nothing'}")
    for k, (a, b) in doc["diff"].items():
        typer.echo(f"  {k}: {a!r} -> {b!r}")
    for side in ("before", "after"):
        m = doc[side]["metrics"]
        shown = ", ".join(f"{k} {v:.4f}" for k, v in m.items() if isinstance(v, float) and k.startswith("val_"))
        typer.echo(f"{side}: {shown or _gan_shown(m)}; findings: {', '.join(doc[side]['findings']) or 'none'}")
    typer.echo(f"report: {out_dir / rundir.REPORT_FILE}")


@app.command()
def checkup(
    config: Optional[Path] = typer.Argument(None, help=CONFIG_HELP),
    target: Optional[str] = typer.Option(None, "--target", help="A target sample npz:PATH (arrays x and optionally y)."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    json_: bool = typer.Option(False, "--json", help="Print exactly one JSON document on stdout."),
) -> None:
    """Data checks before training: scale, balance, leakage, covariate and label shift."""
    from torchdoctor.workflows import run_checkup

    with user_errors():
        findings, stats = run_checkup(config, overrides=set_, target=target)
    if json_:
        emit_json({"findings": [f.to_dict() for f in findings], "stats": stats})
        return
    from torchdoctor.report import print_summary

    print_summary([f.to_dict() for f in findings])


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A run directory (finished or killed).")) -> None:
    """Rebuild report.html from the logs of a run directory."""
    from torchdoctor.report import build_report, write_gan_report

    gan_run = (run_dir / "samples.npz").is_file()  # a GAN run (torchdoctor.gan.SAMPLES_FILE)
    with user_errors():
        path = write_gan_report(run_dir) if gan_run else build_report(run_dir)
    typer.echo(str(path))


def main() -> None:
    """Console-script entry point: usage errors (unknown option, bad value) in one line too."""
    try:
        code = app(standalone_mode=False)
    except Exception as exc:  # noqa: BLE001 - the CLI framework's usage errors, found by shape
        message, exit_code = getattr(exc, "format_message", None), getattr(exc, "exit_code", None)
        if not callable(message) or not isinstance(exit_code, int):
            raise
        text = " ".join(str(message()).split())
        if text:  # empty: the help was shown (no arguments)
            typer.echo(f"error: {text} (see --help)", err=True)
        sys.exit(exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

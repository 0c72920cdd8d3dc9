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
TENSORBOARD_HELP = ("Also write a TensorBoard log to DIR: loss, per-layer gradient and update "
                    "norms, metrics, findings (needs the tensorboard extra of torchdoctor).")


def _other_rank() -> bool:
    """Under torchrun: this process is not rank 0 (which alone prints)."""
    if "torch.distributed" not in sys.modules:  # no process group without it; torch not loaded
        return False
    from torchdoctor.train import distributed_info

    info = distributed_info()
    return info is not None and not info.main


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr (one line) and exit with code 2 (under torchrun
    rank 0 alone prints; every rank exits)."""
    one_line = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    if not _other_rank():
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
    tensorboard: Optional[Path] = typer.Option(None, "--tensorboard", metavar="DIR", help=TENSORBOARD_HELP),
) -> None:
    """Train a config; write config.yaml, metrics.jsonl and checkpoint.pt to the run directory.

    Under torchrun (torchrun --nproc_per_node 2 -m torchdoctor train CONFIG) every process
    trains a share of each batch; rank 0 alone writes and prints (docs/distributed.md).
    """
    from torchdoctor.workflows import TrainingInterrupted, run_training

    try:
        with user_errors():
            result = run_training(config, overrides=set_, out=out, resume=resume,
                                  overwrite=overwrite, progress=_show_progress(quiet),
                                  doctor=not no_doctor, quiet=quiet, tensorboard=tensorboard)
    except TrainingInterrupted as exc:
        if not _other_rank():
            typer.echo(str(exc), err=True)
        raise typer.Exit(130) from None
    if not quiet and result.run_dir is not None:
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
    tensorboard: Optional[Path] = typer.Option(None, "--tensorboard", metavar="DIR", help=TENSORBOARD_HELP),
) -> None:
    """A short budgeted training with the Doctor attached: findings, evidence and remedies."""
    from torchdoctor.workflows import run_diagnose

    with user_errors():
        findings, metrics = run_diagnose(config, overrides=set_, epochs=epochs, out=out,
                                         overwrite=overwrite, tensorboard=tensorboard)
    if _other_rank():
        return
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


# ------------------------------------------------------------------ lab
@app.command()
def lab(
    name: Optional[str] = typer.Argument(None, help="An experiment name, or all; omitted: list the experiments."),
    quick: bool = typer.Option(False, "--quick", help="The seconds-long version of each experiment (1 seed unless --seeds)."),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="Seeds per experiment (>= 1; default: the experiment's own)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for NAME.json, the figures (SVG) and lab.html (lab all: default lab)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="lab all: worker processes (>= 1; default min(2, CPUs))."),
    json_: bool = typer.Option(False, "--json", help="Print exactly one JSON document on stdout."),
) -> None:
    """The lab: the claims behind the remedies, reproduced as seeded experiments (docs/lab.md)."""
    import torchdoctor.lab as tdlab

    with user_errors():
        if seeds is not None and seeds < 1:
            raise ValueError(f"--seeds {seeds}: must be >= 1")
        if jobs is not None and jobs < 1:
            raise ValueError(f"--jobs {jobs}: must be >= 1")
        if out is not None and out.exists() and not out.is_dir():
            raise ValueError(f"--out {rundir.show(str(out))}: is a file; give a directory")
        if name is None:
            listing = [{"name": e.name, "claim": e.claim} for e in tdlab.EXPERIMENTS.values()]
            if json_:
                emit_json(listing)
            else:
                for row in listing:
                    typer.echo(f"{row['name']:<16} {row['claim']}")
            return
        if name != "all":
            tdlab.get(name)  # unknown name: one line, exit 2
    total = len(tdlab.EXPERIMENTS) if name == "all" else 1
    with _lab_progress(not json_, total) as (tick, advance):
        if name == "all":
            target = out if out is not None else Path("lab")
            try:
                with user_errors():
                    results = tdlab.run_all(target, quick=quick, seeds=seeds, jobs=jobs,
                                            tick=tick, on_result=advance)
            except KeyboardInterrupt:
                typer.echo(f"interrupted: the finished experiments are in {target}", err=True)
                raise typer.Exit(130) from None
        else:
            results = tdlab.run_many([tdlab.get(name)], quick=quick, seeds=seeds, tick=tick,
                                     on_result=advance)
            if out is not None:
                with user_errors():
                    tdlab.write_result(results[0], out)
    docs = [r.to_json() for r in results]
    if json_:
        emit_json(docs if name == "all" else docs[0])
        return
    for r in results:
        typer.echo(f"{r.experiment.name:<16} {r.outcome.verdict:<15} {r.outcome.summary}")
    if name == "all":
        typer.echo(f"page: {target / tdlab.PAGE_FILE}")
    elif out is not None:
        typer.echo(f"written: {out / (name + '.json')}")


@contextlib.contextmanager
def _lab_progress(show: bool, total: int) -> Iterator[tuple[Any, Any]]:
    """A rich progress bar on stderr, only on a TTY: finished experiments of ``total``, the
    latest ``ctx.progress`` tick beside it. Yields ``(tick(name, what), advance(result))``."""
    if not (show and sys.stderr.isatty()):
        yield None, None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("lab"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=Console(stderr=True),
                  transient=True) as bar:
        task = bar.add_task("", total=total)
        yield (lambda exp, what: bar.update(task, description=f"{exp}: {what}"),
               lambda result: bar.update(task, advance=1,
                                         description=f"{result.experiment.name} done"))


@app.command()
def tune(
    config: Optional[Path] = typer.Argument(None, help=CONFIG_HELP),
    trials: int = typer.Option(30, "--trials", help="Finished (complete or pruned) trials the study should hold; a resumed study runs the missing ones."),
    space: Optional[Path] = typer.Option(None, "--space", help="Search space YAML: dotted config keys to distributions (docs/tune.md); default: the usual knobs."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna RDB URL, e.g. postgresql://user:pw@host/db (default: sqlite in --out)."),
    study: Optional[str] = typer.Option(None, "--study", help="Study name (default tune-<config name>); an existing study resumes."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds after which a worker starts no new trial (from its own start)."),
    workers: int = typer.Option(1, "--workers", help="Processes on this machine sharing the study."),
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for study.db, tune.json, tune.html, best_config.yaml (default runs/<time>-tune-<name>)."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    no_doctor: bool = typer.Option(False, "--no-doctor", help="No doctor-informed pruning (the median pruner only)."),
    pruner: str = typer.Option("median", "--pruner", help="Metric pruner: median (Optuna's MedianPruner) or none."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the TPE sampler."),
    json_: bool = typer.Option(False, "--json", help="Print exactly one JSON document on stdout."),
) -> None:
    """Search the config's knobs with Optuna; trials with an error finding are pruned at once."""
    from torchdoctor.tune import TUNE_REPORT_FILE
    from torchdoctor.tune import tune as run_tune

    log = None if json_ else typer.echo
    try:
        with user_errors():
            result = run_tune(config, trials=trials, space=space, storage=storage, study=study,
                              timeout=timeout, workers=workers, out=out, overrides=set_,
                              doctor=not no_doctor, pruner=pruner, seed=seed, log=log)
    except KeyboardInterrupt:
        typer.echo("interrupted; run the same command again to resume the study", err=True)
        raise typer.Exit(130) from None
    doc = result.to_json()
    if json_:
        emit_json(doc)
        return
    typer.echo(f"best {result.metric}: "
               f"{'none (no trial completed)' if result.best_value is None else f'{result.best_value:.4f}'}")
    for k, v in result.best_params.items():
        typer.echo(f"  {k}: {v!r}")
    typer.echo(f"trials: {result.n_trials} ({result.n_complete} complete, {result.n_pruned_doctor} "
               f"pruned by the doctor, {result.n_pruned_metric} pruned on the metric, "
               f"{result.n_failed} failed); {result.seconds:.1f} s")
    typer.echo(f"report: {Path(str(result.out_dir)) / TUNE_REPORT_FILE}")


def _shutdown_distributed() -> None:
    """Under torchrun: destroy the process group the command created, before the exit."""
    if "torch.distributed" in sys.modules:
        from torchdoctor.train import shutdown_distributed

        with contextlib.suppress(Exception):  # the run is over: nothing left to report
            shutdown_distributed()


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
    finally:
        _shutdown_distributed()
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

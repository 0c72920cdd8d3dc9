"""``td.tune``: an Optuna study over a config's knobs, with doctor-informed pruning.

The study lives in a storage (SQLite in the output directory by default, or any RDB URL such
as PostgreSQL): a killed study resumes by running the same command again, and several
processes, on one machine (``workers``) or many (the same ``storage`` and ``study``), share
one study. Each worker samples with TPE and stops once the study holds ``trials`` finished
(complete or pruned) trials; workers running side by side may each finish one trial more.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torchdoctor import rundir
from torchdoctor.train.config import (
    Config,
    config_from_dict,
    dump_config,
    first_difference,
    load_config,
)
from torchdoctor.tune._objective import (
    PRUNED_BY_DOCTOR,
    InvalidTrial,
    Objective,
    metric_of,
    trial_config,
)
from torchdoctor.tune._space import Param, default_space, load_space, parse_space, space_to_dict
from torchdoctor.tune._storage import check_url, default_storage, open_storage, public_url

__all__ = ["MEDIAN_STARTUP_TRIALS", "MEDIAN_WARMUP_EPOCHS", "PRUNERS", "RESULT_FILE",
           "TuneResult", "make_pruner", "require_optuna", "tune"]

PathLike = str | os.PathLike[str]

#: The result document written to the output directory (what ``--json`` prints).
RESULT_FILE = "tune.json"
#: The study's report page in the output directory.
TUNE_REPORT_FILE = "tune.html"
#: The best trial's whole config, ready for ``torchdoctor train``.
BEST_CONFIG_FILE = "best_config.yaml"
#: Metric pruners by name: ``median`` is Optuna's ``MedianPruner``, ``none`` prunes nothing
#: on the metric (the doctor's pruning still applies unless turned off).
PRUNERS: tuple[str, ...] = ("median", "none")
#: ``MedianPruner``: complete trials before it prunes, and epochs each trial runs unpruned.
MEDIAN_STARTUP_TRIALS = 5
MEDIAN_WARMUP_EPOCHS = 2
_MAX_TRIALS = 100_000
_ATTR_CONFIG, _ATTR_SPACE = "torchdoctor_config", "torchdoctor_space"


def require_optuna() -> Any:
    """Import Optuna, or raise ValueError naming the extra to install (one line)."""
    try:
        import optuna
    except ImportError:
        raise ValueError("torchdoctor tune needs Optuna, which is not installed: "
                         "pip install 'torchdoctor[optuna]'") from None
    return optuna


def make_pruner(name: str, *, doctor: bool = False) -> Any:
    """The study's metric pruner for ``name`` (one of :data:`PRUNERS`).

    ``median`` is Optuna's ``MedianPruner`` (:data:`MEDIAN_STARTUP_TRIALS`,
    :data:`MEDIAN_WARMUP_EPOCHS`); with ``doctor``, the same rule where the trials the doctor
    pruned count toward the startup trials (:class:`~torchdoctor.tune.DoctorMedianPruner`).
    """
    optuna = require_optuna()
    if name == "median":
        if doctor:
            from torchdoctor.tune._pruner import DoctorMedianPruner

            return DoctorMedianPruner(MEDIAN_STARTUP_TRIALS, MEDIAN_WARMUP_EPOCHS)
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS,
                                           n_warmup_steps=MEDIAN_WARMUP_EPOCHS)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"pruner {rundir.show(name)}: allowed: {', '.join(PRUNERS)}")


@dataclass
class TuneResult:
    """What :func:`tune` returns (``to_json()`` is the ``--json`` document).

    Attributes:
        best_value: the best trial's metric (``None`` when no trial completed).
        best_params: its sampled values, by dotted config key.
        best_config: its whole config (``None`` when no trial completed).
        metric, direction: what was optimized (``val_accuracy`` maximized, ``val_loss``
            minimized).
        n_trials: trials in the study (all states, earlier runs included).
        n_complete, n_pruned_doctor, n_pruned_metric, n_failed, n_running: trials by outcome.
        seconds: wall time of this call.
        storage: the storage URL (password masked); study: the study name.
        out_dir: where tune.json, tune.html and best_config.yaml are.
    """

    best_value: float | None
    best_params: dict[str, Any]
    best_config: Config | None
    metric: str
    direction: str
    n_trials: int
    n_complete: int
    n_pruned_doctor: int
    n_pruned_metric: int
    n_failed: int
    n_running: int
    seconds: float
    storage: str
    study: str
    out_dir: Path | None
    best_trial: int | None = None
    trials_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return rundir.jsonable({
            "best_value": self.best_value, "best_params": self.best_params,
            "best_trial": self.best_trial,
            "best_config": self.best_config.to_dict() if self.best_config is not None else None,
            "metric": self.metric, "direction": self.direction, "n_trials": self.n_trials,
            "n_complete": self.n_complete, "n_pruned_doctor": self.n_pruned_doctor,
            "n_pruned_metric": self.n_pruned_metric, "n_failed": self.n_failed,
            "n_running": self.n_running, "seconds": self.seconds,
            "trials_seconds": self.trials_seconds, "storage": self.storage,
            "study": self.study, "out_dir": str(self.out_dir) if self.out_dir else None,
        })


@dataclass(frozen=True)
class _Job:
    """What one worker process needs (picklable for ``spawn``)."""

    url: str
    study: str
    trials: int
    timeout: float | None  # seconds after the worker's start when no new trial starts
    config: dict[str, Any]
    space: dict[str, dict[str, Any]]
    doctor: bool
    pruner: str
    seed: int | None
    worker: int
    threads: int | None


def _check_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} {rundir.show(value)}: must be a whole number in {lo}..{hi}")
    return value


def tune(config: PathLike | Config | None = None, *, trials: int = 30,
         space: PathLike | dict[str, Any] | list[Param] | None = None,
         storage: str | None = None, study: str | None = None, timeout: float | None = None,
         workers: int = 1, out: PathLike | None = None, overrides: list[str] | None = None,
         doctor: bool = True, pruner: str = "median", seed: int | None = None,
         baseline: bool = True, log: Any = None) -> TuneResult:
    """Search a config's knobs with Optuna; prune trials on the doctor's error findings.

    Args:
        config: YAML path, a :class:`Config`, or ``None`` for the defaults.
        trials: finished (complete or pruned) trials the study should hold; a resumed study
            runs only the missing ones.
        space: a space file (see docs/tune.md), its contents as a dict, a list of
            :class:`Param`, or ``None`` for :func:`default_space`.
        storage: an Optuna RDB URL (``postgresql://user:pw@host/db``); default
            ``sqlite:///OUT/study.db``.
        study: the study name (default ``tune-<config name>``); an existing study of that
            name is resumed when it was started from the same config and space.
        timeout: seconds after which a worker starts no new trial (counted from the
            worker's start: every worker runs at least one trial).
        workers: processes on this machine sharing the study (each samples and trains).
        out: output directory (default ``runs/<time>-tune-<name>``).
        overrides: ``--set`` strings applied to the config.
        doctor: attach a Doctor to each trial and prune on its error findings.
        pruner: the metric pruner, one of :data:`PRUNERS`.
        seed: seed of the TPE sampler (default: not seeded).
        baseline: make the first trial of a new study the config's own values.
        log: called with progress lines (e.g. ``print``); ``None``: quiet.

    Raises:
        ValueError: bad input, Optuna missing, or a storage that cannot be opened (one line).
    """
    t0 = time.perf_counter()
    optuna = require_optuna()
    _check_int("--trials", trials, 1, _MAX_TRIALS)
    _check_int("--workers", workers, 1, max(1, os.cpu_count() or 1) * 4)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not (timeout > 0 and math.isfinite(timeout))):
        raise ValueError(f"--timeout {rundir.show(timeout)}: must be a positive number of seconds")
    if pruner not in PRUNERS:
        raise ValueError(f"pruner {rundir.show(pruner)}: allowed: {', '.join(PRUNERS)}")
    if isinstance(config, Config):
        base, name = config, config.data.name.replace(":", "_")
    else:
        base = load_config(config, overrides or [])
        name = Path(config).stem if config is not None else base.data.name.replace(":", "_")
    params = _resolve_space(space, base)
    if storage is not None:
        check_url(storage)
    study_name = study if study is not None else f"tune-{name}"
    if not isinstance(study_name, str) or not study_name.strip() or len(study_name) > 512:
        raise ValueError(f"--study {rundir.show(study_name)}: must be a non-empty name of at most 512 characters")
    out_dir = rundir.prepare_dir(out) if out is not None else rundir.new_run_dir(f"tune-{name}")
    url = storage if storage is not None else default_storage(out_dir)
    metric, direction = metric_of(base)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    st = open_storage(url)
    s = optuna.create_study(storage=st, study_name=study_name, direction=direction,
                            load_if_exists=True)
    _claim_study(s, base, params, url)
    if baseline and not s.trials:
        fixed = {p.key: _value_at(base, p.key) for p in params if p.contains(_value_at(base, p.key))}
        if fixed:
            s.enqueue_trial(fixed, user_attrs={"baseline": True}, skip_if_exists=True)
    done_before = _finished(s)
    if log is not None:
        log(f"study {study_name} in {public_url(url)}: {done_before} finished trials, "
            f"running up to {trials}")
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    jobs = [_Job(url, study_name, trials, timeout, base.to_dict(), space_to_dict(params), doctor,
                 pruner, seed, w, threads) for w in range(workers)]
    _run_workers(jobs, log)
    result = summarize(s, base, url=url, out_dir=out_dir, seconds=time.perf_counter() - t0)
    _write_outputs(s, result, out_dir)
    return result


def _resolve_space(space: Any, base: Config) -> list[Param]:
    if space is None:
        return default_space(base)
    if isinstance(space, list) and all(isinstance(p, Param) for p in space):
        return parse_space(space_to_dict(space), base)
    if isinstance(space, dict):
        return parse_space(space, base)
    if isinstance(space, (str, os.PathLike)):
        return load_space(space, base)
    raise ValueError(f"space must be a space file, a mapping or a list of Param, got {type(space).__name__}")


def _value_at(cfg: Config, key: str) -> Any:
    node: Any = cfg.to_dict()
    for part in key.split("."):
        node = node[part]
    return node


def _claim_study(s: Any, base: Config, params: list[Param], url: str) -> None:
    """A new study records its config and space; an existing one must match them."""
    mine = {_ATTR_CONFIG: base.to_dict(), _ATTR_SPACE: space_to_dict(params)}
    attrs = s.user_attrs
    for key, value in mine.items():
        if key not in attrs:
            s.set_user_attr(key, value)
            continue
        diff = first_difference(attrs[key], rundir.jsonable(value))
        if diff is not None:
            what = "config" if key == _ATTR_CONFIG else "search space"
            k, old, new = diff
            raise ValueError(
                f"--study {rundir.show(s.study_name)} in {rundir.show(public_url(url))} was "
                f"started with another {what}: {k.rstrip('.')} = {rundir.show(new, 40)} (study: "
                f"{rundir.show(old, 40)}); choose another --study or --out")


def _finished(s: Any) -> int:
    from optuna.trial import TrialState

    return len(s.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def _run_workers(jobs: list[_Job], log: Any) -> None:
    """Worker 0 runs here; the others in spawned processes (each opens the storage itself)."""
    if len(jobs) == 1:
        run_worker(jobs[0], log)
        return
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=run_worker, args=(j, None), daemon=True) for j in jobs[1:]]
    for p in procs:
        p.start()
    try:
        run_worker(jobs[0], log)
    except BaseException:  # Ctrl-C or an error here: the others stop too (the study resumes)
        for p in procs:
            p.terminate()
        raise
    finally:
        for p in procs:
            p.join()
    failed = [p.exitcode for p in procs if p.exitcode not in (0, None)]
    if failed and log is not None:
        log(f"{len(failed)} worker process(es) ended with an error (exit code {failed[0]})")


def run_worker(job: _Job, log: Any = None) -> None:
    """Run trials of ``job.study`` until it holds ``job.trials`` finished trials."""
    import torch

    optuna = require_optuna()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    old_threads = torch.get_num_threads()
    if job.threads is not None:
        torch.set_num_threads(job.threads)
    try:
        base = config_from_dict(job.config)
        params = parse_space(job.space, base)
        s = optuna.load_study(study_name=job.study, storage=open_storage(job.url),
                              sampler=_sampler(job, optuna),
                              pruner=make_pruner(job.pruner, doctor=job.doctor))
        objective = Objective(base, params, doctor=job.doctor)

        def stop_when_done(study: Any, trial: Any) -> None:
            if log is not None:
                log(_trial_line(trial))
            if _finished(study) >= job.trials:
                study.stop()

        if _finished(s) >= job.trials:
            return
        s.optimize(objective, timeout=job.timeout, catch=(InvalidTrial,),
                   callbacks=[stop_when_done], gc_after_trial=False)
    finally:
        torch.set_num_threads(old_threads)


def _sampler(job: _Job, optuna: Any) -> Any:
    seed = None if job.seed is None else job.seed + 7919 * job.worker
    return optuna.samplers.TPESampler(seed=seed)


def _trial_line(t: Any) -> str:
    state = t.state.name.lower()
    if state == "pruned":
        by = t.user_attrs.get("pruned_by")
        why = t.user_attrs.get("finding_code") if by == PRUNED_BY_DOCTOR else "metric"
        state = f"pruned ({why})"
    value = f" {t.value:.4f}" if t.value is not None else ""
    mark = " (the config's own values)" if t.user_attrs.get("baseline") else ""
    return f"trial {t.number}{mark}: {state}{value}"


def summarize(s: Any, base: Config, *, url: str, out_dir: Path | None,
              seconds: float) -> TuneResult:
    """The :class:`TuneResult` of a study as it stands."""
    from optuna.trial import TrialState

    metric, direction = metric_of(base)
    trials = s.get_trials(deepcopy=False)
    by_state = {st: [t for t in trials if t.state == st] for st in TrialState}
    pruned = by_state[TrialState.PRUNED]
    n_doctor = sum(1 for t in pruned if t.user_attrs.get("pruned_by") == PRUNED_BY_DOCTOR)
    best_value, best_params, best_cfg, best_no = None, {}, None, None
    if by_state[TrialState.COMPLETE]:
        bt = s.best_trial
        best_value, best_params, best_no = bt.value, dict(bt.params), bt.number
        try:
            best_cfg = trial_config(base, best_params)
        except ValueError:
            best_cfg = None
    spent = sum(t.duration.total_seconds() for t in trials if t.duration is not None)
    return TuneResult(best_value, best_params, best_cfg, metric, direction, len(trials),
                      len(by_state[TrialState.COMPLETE]), n_doctor, len(pruned) - n_doctor,
                      len(by_state[TrialState.FAIL]), len(by_state[TrialState.RUNNING]),
                      seconds, public_url(url), s.study_name, out_dir, best_trial=best_no,
                      trials_seconds=spent)


def _write_outputs(s: Any, result: TuneResult, out_dir: Path) -> None:
    from torchdoctor.tune._report import write_tune_report

    rundir.atomic_write_json(out_dir / RESULT_FILE, result.to_json(), indent=2)
    if result.best_config is not None:
        dump_config(result.best_config, out_dir / BEST_CONFIG_FILE)
    write_tune_report(s, result, out_dir / TUNE_REPORT_FILE)

"""The study's report page ``OUT/tune.html``: the result, the history of the trials, the
parameter importances and the pruned trials with the findings that pruned them.

Figures go through :func:`torchdoctor.report.charts.figure` / ``figure_svg``; the page through
:func:`torchdoctor.report.render_page`. Every string from the study is escaped.
"""

from __future__ import annotations

import math
import os
from html import escape
from pathlib import Path
from typing import Any

from torchdoctor.rundir import atomic_write_text
from torchdoctor.tune._storage import GRACE_S

__all__ = ["importances", "render_tune_report", "write_tune_report"]

_RUNNING_NOTE = (f" (in progress in another process, or left by a killed one: failed once its "
                 f"heartbeat is {GRACE_S} s old)")
#: Complete trials needed before parameter importances are computed (fANOVA on fewer is noise).
MIN_TRIALS_FOR_IMPORTANCE = 4


def _num(v: Any) -> str:
    if isinstance(v, float):
        return "—" if not math.isfinite(v) else f"{v:.4g}"
    return escape(str(v)) if v is not None else "—"


def importances(study: Any) -> tuple[dict[str, float], str]:
    """``(importance by key, note)``: Optuna's fANOVA importances, or ``({}, why not)`` when
    there are too few complete trials or the computation fails."""
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(done) < MIN_TRIALS_FOR_IMPORTANCE:
        return {}, (f"{len(done)} complete trial(s): importances need at least "
                    f"{MIN_TRIALS_FOR_IMPORTANCE}")
    try:
        import optuna

        imp = optuna.importance.get_param_importances(study)
    except Exception as exc:  # noqa: BLE001 - e.g. every sampled value identical
        return {}, f"importances could not be computed ({type(exc).__name__}: {exc})"
    return {k: float(v) for k, v in imp.items()}, ""


def _history_svg(study: Any, direction: str, metric: str) -> str:
    from optuna.trial import TrialState

    from torchdoctor.report.charts import PALETTE, figure, figure_svg

    trials = study.get_trials(deepcopy=False)
    fig, ax = figure(width=7.0, height=3.2)
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if done:
        ax.scatter([t.number for t in done], [t.value for t in done], s=14, color=PALETTE[0],
                   label="complete", zorder=3)
        best, xs, ys = None, [], []
        for t in sorted(done, key=lambda t: t.number):
            if best is None or (t.value > best if direction == "maximize" else t.value < best):
                best = t.value
            xs.append(t.number)
            ys.append(best)
        ax.step(xs, ys, where="post", color=PALETTE[1], label="best so far")
    for state_key, colour, label in ((("doctor",), PALETTE[3], "pruned by the doctor"),
                                     (("metric",), PALETTE[4], "pruned on the metric")):
        pts = [(t.number, t.last_step, t.intermediate_values.get(t.last_step))
               for t in trials if t.state == TrialState.PRUNED
               and (t.user_attrs.get("pruned_by") in state_key)]
        pts = [(n, v) for n, _, v in pts if isinstance(v, (int, float)) and math.isfinite(v)]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker="x", s=18, color=colour,
                       label=label + " (last value)")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")
    else:
        ax.text(0.5, 0.5, "no trial reported a value", ha="center", va="center",
                transform=ax.transAxes)
    return figure_svg(fig, title=f"{metric} of each trial")


def _importance_svg(imp: dict[str, float]) -> str:
    from torchdoctor.report.charts import figure, figure_svg

    keys = list(imp)[::-1]
    fig, ax = figure(width=6.4, height=0.3 * len(keys) + 1.0)
    ax.barh(keys, [imp[k] for k in keys])
    ax.set_xlabel("importance (fANOVA)")
    return figure_svg(fig, title="parameter importances")


def render_tune_report(study: Any, result: Any) -> str:
    """The page's HTML text (``result``: a :class:`~torchdoctor.tune.TuneResult`)."""
    from optuna.trial import TrialState

    from torchdoctor.report import Section, render_page
    from torchdoctor.report.charts import house_style

    r = result
    summary = (
        "<table>"
        f"<tr><td>best {escape(r.metric)}</td><td>{_num(r.best_value)}"
        f"{'' if r.best_trial is None else f' (trial {r.best_trial})'}</td></tr>"
        f"<tr><td>trials</td><td>{r.n_trials}: {r.n_complete} complete, {r.n_pruned_doctor} "
        f"pruned by the doctor, {r.n_pruned_metric} pruned on the metric, {r.n_failed} failed, "
        f"{r.n_running} running"
        f"{_RUNNING_NOTE if r.n_running else ''}"
        "</td></tr>"
        f"<tr><td>time</td><td>{r.seconds:.1f} s this run; {r.trials_seconds:.1f} s of trials in "
        "the study</td></tr>"
        f"<tr><td>storage</td><td><code>{escape(r.storage)}</code>, study "
        f"<code>{escape(r.study)}</code></td></tr></table>")
    rows = "".join(f"<tr><td><code>{escape(k)}</code></td><td>{_num(v)}</td></tr>"
                   for k, v in r.best_params.items())
    best = (f"<table><tr><th>key</th><th>value</th></tr>{rows}</table>" if rows else
            '<p class="empty">No trial completed.</p>')
    imp, note = importances(study)
    with house_style():  # the figures' style; the caller's matplotlib untouched
        imp_html = _importance_svg(imp) if imp else f'<p class="empty">{escape(note)}</p>'
        history_html = _history_svg(study, r.direction, r.metric)
    pruned = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.PRUNED]
    prow = []
    for t in pruned:
        by = t.user_attrs.get("pruned_by", "metric")
        code = t.user_attrs.get("finding_code", "")
        msg = t.user_attrs.get("finding_message", "")
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in t.params.items())
        prow.append(f"<tr><td>{t.number}</td><td>{escape(str(by))}</td>"
                    f"<td>{_num(t.last_step + 1 if t.last_step is not None else None)}</td>"
                    f"<td><code>{escape(str(code))}</code></td><td>{escape(str(msg))}</td>"
                    f"<td><code>{escape(params)}</code></td></tr>")
    pruned_html = ("<table><tr><th>trial</th><th>pruned by</th><th>epochs</th><th>finding</th>"
                   f"<th>message</th><th>params</th></tr>{''.join(prow)}</table>" if prow else
                   '<p class="empty">No trial was pruned.</p>')
    failed = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.FAIL]
    frows = "".join(f"<li>trial {t.number}: {escape(str(t.user_attrs.get('error', 'interrupted')))}</li>"
                    for t in failed)
    sections = [
        Section("summary", "Result", summary),
        Section("best", "Best parameters", best),
        Section("history", "History", history_html),
        Section("importance", "Parameter importances", imp_html),
        Section("pruned", "Pruned trials", pruned_html, count=len(pruned)),
    ]
    if failed:
        sections.append(Section("failed", "Failed trials", f"<ul>{frows}</ul>", count=len(failed)))
    return render_page(f"torchdoctor tune: {r.study}", sections)


def write_tune_report(study: Any, result: Any, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render_tune_report` atomically to ``path``."""
    return atomic_write_text(path, render_tune_report(study, result))

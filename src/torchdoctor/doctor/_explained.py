"""Consequences of a cause: findings another finding fully explains lose their (wrong) cures.

When the optimizer changes no weight at all (``no_update`` as an error for every layer), the
loss cannot fall and the model cannot fit: ``loss_plateau`` and ``underfitting`` follow by
necessity, and their usual cures (a higher learning rate, a bigger model) would mislead. They
stay in the list, as ``info``, with the message prefixed ``Explained by no_update:``, the
evidence ``explained_by`` and no remedies of their own.
"""

from __future__ import annotations

import dataclasses

from torchdoctor.findings import Finding

__all__ = ["EXPLAINS", "explain"]

#: Cause code -> codes it fully explains when it is an error for the whole model.
EXPLAINS: dict[str, tuple[str, ...]] = {"no_update": ("loss_plateau", "underfitting")}


def explain(findings: list[Finding]) -> list[Finding]:
    """``findings`` with the consequences of a whole-model cause turned into ``info`` (module
    docstring); the order is kept."""
    causes = {f.code for f in findings if f.code in EXPLAINS and f.severity == "error"
              and not f.evidence.get("layers")}
    if not causes:
        return findings
    explained = {code: cause for cause in causes for code in EXPLAINS[cause]}
    out = []
    for f in findings:
        cause = explained.get(f.code)
        if cause is None or f.severity == "info":
            out.append(f)
            continue
        out.append(dataclasses.replace(
            f, severity="info", message=f"Explained by {cause}: {f.message}", remedies=[],
            evidence={**f.evidence, "explained_by": cause, "severity_before": f.severity}))
    return out

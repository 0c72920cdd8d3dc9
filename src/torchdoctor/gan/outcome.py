"""Findings read off a GAN run's final mode metrics (no doctor needed).

A run whose samples miss modes of the data (PacGAN's captured modes below the number of
modes; digits: classes generated below the number of classes) shows ``gan_mode_collapse``,
with the catalogue's remedies for it. This is the outcome the GAN trainer can always see; the
GAN doctor adds the findings of the training dynamics.
"""

from __future__ import annotations

from typing import Any

from torchdoctor.findings import Finding

__all__ = ["outcome_findings"]


def outcome_findings(metrics: dict[str, Any]) -> list[Finding]:
    """``[gan_mode_collapse]`` when ``metrics["modes"] < metrics["num_modes"]``, else ``[]``.

    The remedies come from the catalogue's spec of ``gan_mode_collapse`` (their config patches
    are attached by :func:`torchdoctor.repair.attach_patches`).
    """
    from torchdoctor.catalogue import remedies_for

    modes, k = metrics.get("modes"), metrics.get("num_modes")
    if not isinstance(modes, int) or not isinstance(k, int) or modes >= k:
        return []
    severity = "error" if 2 * modes <= k else "warning"
    hq = metrics.get("high_quality")
    quality = f"; {100 * hq:.1f} % of the samples are high quality" if isinstance(hq, float) else ""
    return [Finding(
        "gan_mode_collapse", severity,
        f"the generator reaches {modes} of the {k} modes of the data{quality}",
        evidence={"modes": modes, "num_modes": k, "high_quality": hq, "kl": metrics.get("kl"),
                  "coverage": metrics.get("coverage"), "source": "final mode metrics"},
        remedies=remedies_for("gan_mode_collapse"))]

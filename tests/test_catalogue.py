"""The symptom catalogue: every code has one complete spec, and everything is derived from it."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import torchdoctor as td
from torchdoctor.catalogue import (
    PRODUCERS,
    ROLES,
    SPECS,
    Thresholds,
    outcome_codes,
    repair_order,
    threshold_doc,
    thresholds_from,
)
from torchdoctor.doctor import RULES

#: The codes of the public contract's symptom table: they must stay.
CONTRACT_CODES = (
    "nonfinite", "exploding_gradient", "vanishing_gradient", "dead_relu", "saturated_activation",
    "activation_collapse", "symmetric_weights", "unnormalized_input", "wrong_output_activation",
    "wrong_loss", "loss_plateau", "loss_oscillating", "small_batch_norm", "train_mode_in_eval",
    "missing_zero_grad", "overfitting", "underfitting", "class_imbalance", "unshuffled_data",
    "covariate_shift", "label_shift", "gan_discriminator_wins", "gan_mode_collapse",
    "gan_discriminator_ineffective", "narrow_layer", "duplicate_samples", "constant_feature",
)


def test_every_contract_code_has_a_spec_and_symptom_codes_derive_from_the_specs() -> None:
    assert set(CONTRACT_CODES) <= set(SPECS)
    assert td.SYMPTOM_CODES == {c: s.meaning for c, s in SPECS.items()}


def test_every_spec_has_a_producer_remedies_and_a_priority() -> None:
    ranks = [s.rank for s in SPECS.values()]
    assert len(set(ranks)) == len(ranks)
    for code, s in SPECS.items():
        assert s.code == code and s.meaning and s.evidence.endswith("."), code
        assert s.remedies and s.role in ROLES and s.producer in PRODUCERS, code
        assert (code in RULES) == (s.producer == "rule"), code  # a rule exactly for rule specs
    assert set(repair_order()) == set(SPECS)
    assert {"loss_plateau", "loss_oscillating", "overfitting", "underfitting"} <= outcome_codes()
    order = repair_order()
    assert order.index("unnormalized_input") < order.index("vanishing_gradient")  # cause first


def test_a_rule_needs_a_spec() -> None:
    from torchdoctor.doctor.symptoms import rule

    with pytest.raises(ValueError, match="must have a spec"):
        rule("no_such_symptom")


def test_every_threshold_is_documented_with_a_source() -> None:
    for f in dataclasses.fields(Thresholds):
        doc, source = threshold_doc(f.name)
        assert doc and source, f.name
    used = {t for s in SPECS.values() for t in s.thresholds}
    assert used == {f.name for f in dataclasses.fields(Thresholds)}  # no orphan threshold


def test_threshold_overrides() -> None:
    assert thresholds_from(None) == Thresholds()
    t = thresholds_from({"dead_fraction": 0.7})
    assert t.dead_fraction == 0.7 and t.theta == Thresholds().theta
    assert thresholds_from(t) is t and t.replace(theta=0.9).theta == 0.9
    with pytest.raises(ValueError, match=r"must name fields of Thresholds \(bn_min_batch, .*'dead_frac'"):
        thresholds_from({"dead_frac": 0.7})
    with pytest.raises(ValueError, match="must be a real number"):
        Thresholds(theta="high")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="thresholds must be a Thresholds"):
        thresholds_from([0.5])  # type: ignore[arg-type]


def _narrow_run(**doctor_kwargs: object) -> list[td.Finding]:
    """A user's own loop on a model with a 2-unit bottleneck for 10 classes, SGD at rate 3."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 2), nn.ReLU(), nn.Linear(2, 10))
    opt = torch.optim.SGD(model.parameters(), lr=3.0, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(256, 8, generator=g) * 50, torch.randint(0, 10, (256,), generator=g)
    with td.Doctor(model, opt, console=False, sample_every=1, **doctor_kwargs) as doctor:
        for _ in range(2):
            for i in range(0, 256, 32):
                out = model(x[i:i + 32])
                loss = F.cross_entropy(out, y[i:i + 32])
                opt.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=x[i:i + 32], targets=y[i:i + 32], outputs=out)
                opt.step()
            doctor.observe()
        return doctor.findings


def test_a_doctor_in_a_users_loop_speaks_the_users_optimizer_not_our_config() -> None:
    findings = _narrow_run()
    codes = {f.code for f in findings}
    assert {"narrow_layer", "unnormalized_input"} <= codes
    remedies = [r for f in findings for r in f.remedies]
    assert remedies and all(r.patch == {} for r in remedies)
    assert not any("model.width" in r.description or "train.lr" in r.description for r in remedies)
    rate = [r for r in remedies if r.code == "lower_lr_to_usual"]
    if rate:  # only when a rate symptom fired
        assert "of your SGD with momentum 0.9 from 3 to about 0.05" in rate[0].description
    narrow = next(f for f in findings if f.code == "narrow_layer")
    assert narrow.evidence["suggested_width"] == 64  # 4 units per output, a power of two


def test_doctor_thresholds_reach_the_rules() -> None:
    narrow = next(f for f in _narrow_run(thresholds={"width_per_output": 8})
                  if f.code == "narrow_layer")
    assert narrow.evidence["suggested_width"] == 128
    quiet = _narrow_run(thresholds=Thresholds(input_scale_high=1e6))
    assert "unnormalized_input" not in {f.code for f in quiet}
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="must name fields of Thresholds"):
        td.Doctor(model, thresholds={"no_such_threshold": 1.0})


def test_docs_symptoms_md_is_generated_from_the_specs() -> None:
    from pathlib import Path

    from torchdoctor.catalogue import symptoms_markdown

    path = Path(__file__).resolve().parents[1] / "docs" / "symptoms.md"
    assert path.read_text(encoding="utf-8") == symptoms_markdown(), (
        "docs/symptoms.md drifted from the specs: run "
        "`python -m torchdoctor.catalogue > docs/symptoms.md`")


def test_every_cited_paper_is_in_the_references() -> None:
    import re
    from pathlib import Path

    from torchdoctor.catalogue import REMEDIES

    refs = (Path(__file__).resolve().parents[1] / "docs" / "references.md").read_text(encoding="utf-8")
    texts = [info.text()[0] for info in REMEDIES.values()]
    texts += [" ".join(threshold_doc(f.name)) for f in dataclasses.fields(Thresholds)]
    cited = set()
    for text in texts:
        for m in re.finditer(r"([A-Z][A-Za-z]+)(?: et al\.| & [A-Z][A-Za-z]+)?,? ((?:19|20)\d\d)", text):
            cited.add(f"{m.group(1)}|{m.group(2)}")
    assert len(cited) >= 15
    for c in sorted(cited):
        name, year = c.split("|")
        assert re.search(rf"{name}[^\n]*{year}", refs), f"{name} {year} is not in docs/references.md"


def test_prescribe_sees_every_diagnosis_and_its_failure_is_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    from torchdoctor.autorepair import attach_patches

    seen: list[int] = []
    findings = _narrow_run(prescribe=lambda fs: seen.append(len(attach_patches(fs))))
    assert seen and next(f for f in findings if f.code == "narrow_layer").remedies[0].patch == {
        "model.width": 64}  # our own trainer's way: patches from the repair side

    def boom(fs: list) -> None:
        raise RuntimeError("no")

    assert _narrow_run(prescribe=boom)  # findings still come
    assert "prescribe failed" in caplog.text
    with pytest.raises(ValueError, match="prescribe must be a callable"):
        td.Doctor(nn.Linear(2, 2), prescribe="patches")  # type: ignore[arg-type]

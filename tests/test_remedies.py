"""The remedy registry and its config patches: every cure has one meaning, every patch applies."""

from __future__ import annotations

import pytest
import torch

from torchdoctor.autorepair import PATCHES, apply_patch, attach_patches, patch_for
from torchdoctor.catalogue import REMEDIES, SPECS, remedies_for
from torchdoctor.doctor.remedies import LIVE, attach_remedies, fit_rate_remedies, optimizer_name
from torchdoctor.findings import Finding, Remedy
from torchdoctor.train.config import Config


def test_every_remedy_is_used_once_per_symptom_and_reads_as_a_sentence() -> None:
    used = {r for s in SPECS.values() for r in s.remedies}
    assert used == set(REMEDIES)  # no orphan cures
    keys = {k for p in PATCHES.values() if isinstance(p, dict) for k in p}
    assert "model.width" in keys
    for code, info in REMEDIES.items():
        text, snippet = info.text()
        assert text.endswith((".", ")")) and "{" not in text, code
        assert not any(k in text or k in snippet for k in keys), code  # never config keys


def test_every_patch_applies_to_the_default_config() -> None:
    cfg = Config()
    for code in PATCHES:
        patch = patch_for(code, Finding("narrow_layer", "warning", "m",
                                        evidence={"suggested_width": 64}))
        res = apply_patch(cfg, patch)
        assert res.config is not None, f"{code}: {res.reason}"


def test_relative_patches_keep_integers() -> None:
    cfg = Config().model_copy(update={"model": Config().model.model_copy(update={"depth": 3})})
    res = apply_patch(cfg, {"train.lr": "x0.1", "train.batch_size": "x0.5", "model.depth": "x0.1"})
    assert res.config.train.lr == pytest.approx(cfg.train.lr * 0.1)
    assert res.config.train.batch_size == cfg.train.batch_size // 2
    assert res.config.model.depth == 1  # at least 1
    bad = apply_patch(cfg, {"model.norm": "x2"})
    assert bad.config is None and "needs a numeric current value" in bad.reason


def test_ranking_and_meaning() -> None:
    assert [r.code for r in remedies_for("vanishing_gradient")][:2] == ["use_relu_he", "add_normalization"]
    assert patch_for(remedies_for("small_batch_norm")[0].code) == {"model.norm": "layer"}
    assert remedies_for("exploding_gradient")[0].code == "clip_gradients"
    assert patch_for("larger_batch") == {"train.batch_size": "x2"}  # one meaning per code
    assert patch_for("batch_of_32") == {"train.batch_size": 32}
    assert patch_for("more_data") == {}  # no config form
    assert set(LIVE) == {"nonfinite"}
    with pytest.raises(ValueError, match="code must be one of"):
        remedies_for("bad_vibes")
    with pytest.raises(ValueError, match="remedy code must be one of"):
        patch_for("bad_vibes")


def test_attach_remedies_keeps_existing_ones_and_patches_come_from_the_repair_side() -> None:
    own = Remedy("mine", "Mine.")
    fs = attach_remedies([Finding("dead_relu", "warning", "m"),
                          Finding("nonfinite", "error", "m", remedies=[own])])
    assert fs[0].remedies[0].code == "use_leaky_relu" and fs[1].remedies == [own]
    assert all(not r.patch for r in fs[0].remedies)
    attach_patches(fs)
    assert fs[0].remedies[0].patch == {"model.activation": "leaky_relu"}
    assert fs[1].remedies == [own]  # hand-made remedies are left alone


def test_rate_remedies_fit_the_users_optimizer() -> None:
    from torchdoctor.optim import LARS

    w = [torch.nn.Parameter(torch.zeros(2))]
    assert optimizer_name(torch.optim.SGD(w, lr=0.1)) == "sgd"
    assert optimizer_name(torch.optim.SGD(w, lr=0.1, momentum=0.9)) == "sgdm"
    assert optimizer_name(torch.optim.AdamW(w)) == "adamw"
    assert optimizer_name(LARS(w, lr=1.0)) == "lars"
    assert optimizer_name(torch.optim.LBFGS(w)) is None

    def fitted(opt: torch.optim.Optimizer) -> list[Remedy]:
        f = Finding("loss_oscillating", "warning", "swings")
        f.remedies = remedies_for("loss_oscillating") + remedies_for("loss_plateau")
        fit_rate_remedies([f], opt)
        return f.remedies

    def codes(lr: float) -> list[str]:
        return [r.code for r in fitted(torch.optim.Adam(w, lr=lr))]

    assert "lower_lr_to_usual" in codes(0.5) and "raise_lr_to_usual" not in codes(0.5)
    assert "raise_lr_to_usual" in codes(1e-6) and "lower_lr_to_usual" not in codes(1e-6)
    assert not {"raise_lr_to_usual", "lower_lr_to_usual"} & set(codes(1e-3))
    lower = next(r for r in fitted(torch.optim.SGD(w, lr=0.5)) if r.code == "lower_lr_to_usual")
    assert "of your SGD from 0.5 to about 0.1" in lower.description  # plain SGD: usual 0.1
    assert "g['lr'] = min(g['lr'], 0.1)" in lower.snippet and not lower.patch
    unknown = Finding("loss_plateau", "warning", "flat")
    unknown.remedies = remedies_for("loss_plateau")
    fit_rate_remedies([unknown], torch.optim.LBFGS(w))
    assert unknown.remedies == remedies_for("loss_plateau")  # unknown optimizer: all kept


def test_remedy_text_fields_and_literal_braces() -> None:
    from torchdoctor.catalogue import RemedyInfo, remedy

    literal = RemedyInfo("x", "Use a dict.", "cfg = {'lr': 0.1}")
    assert literal.text(width=3) == ("Use a dict.", "cfg = {'lr': 0.1}")
    templ = RemedyInfo("y", "Widen to {width}.", "nn.Linear(d, {units})", {"width": "more", "units": "n"})
    assert templ.text() == ("Widen to more.", "nn.Linear(d, n)")
    assert templ.text(width="64 units", units=64) == ("Widen to 64 units.", "nn.Linear(d, 64)")
    assert remedy("widen_layers", width="64 units").description == "Widen the hidden layers to 64 units."
    with pytest.raises(ValueError, match="remedy code must be one of"):
        remedy("no_such_cure")

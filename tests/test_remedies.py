"""The remedy catalogue: every rule has ranked cures whose patches the config accepts."""

from __future__ import annotations

import pytest

from torchdoctor.doctor.remedies import CATALOGUE, LIVE, apply_patch, attach_remedies, remedies_for
from torchdoctor.doctor.symptoms import RULES
from torchdoctor.findings import Finding, Remedy


def config() -> dict:
    from torchdoctor.train.config import Config

    return Config().model_dump()


def test_every_rule_has_remedies_and_catalogue_codes_are_rules() -> None:
    assert set(RULES) <= set(CATALOGUE)
    assert set(CATALOGUE) <= set(RULES)
    for code, rems in CATALOGUE.items():
        assert rems, code
        assert all(isinstance(r, Remedy) and r.description.endswith((".", ")")) for r in rems), code
        assert len({r.code for r in rems}) == len(rems), code


def test_every_patch_applies_to_the_default_config() -> None:
    base = config()
    for code, rems in CATALOGUE.items():
        for r in rems:
            for key in r.patch:
                section, _, leaf = key.partition(".")
                assert section in base and leaf in base[section], f"{code}/{r.code}: unknown key {key}"
            patched = apply_patch(base, r.patch)
            from torchdoctor.train.config import Config

            Config.model_validate(patched)  # the config schema accepts the result


def test_relative_patches() -> None:
    cfg = {"train": {"lr": 0.05, "batch_size": 64}, "model": {"depth": 3}}
    out = apply_patch(cfg, {"train.lr": "x0.1", "train.batch_size": "x0.5", "model.depth": "x0.1"})
    assert out == {"train": {"lr": pytest.approx(0.005), "batch_size": 32}, "model": {"depth": 1}}
    assert cfg["train"]["lr"] == 0.05  # not modified in place
    assert apply_patch(cfg, {"model.norm": "group"})["model"]["norm"] == "group"
    with pytest.raises(ValueError, match="needs a numeric current value"):
        apply_patch({"model": {"norm": "none"}}, {"model.norm": "x2"})


def test_ranking_follows_the_notes() -> None:
    assert [r.code for r in remedies_for("vanishing_gradient")][:2] == ["use_relu_he", "add_normalization"]
    assert remedies_for("small_batch_norm")[0].patch == {"model.norm": "layer"}  # MLPs too (GroupNorm needs channels)
    assert remedies_for("exploding_gradient")[0].code == "clip_gradients"
    assert remedies_for("dead_relu")[0].patch == {"model.activation": "leaky_relu"}
    assert remedies_for("covariate_shift") == []
    assert set(LIVE) == {"nonfinite"}
    with pytest.raises(ValueError, match="code must be one of"):
        remedies_for("bad_vibes")


def test_attach_remedies_keeps_existing_ones() -> None:
    own = Remedy("mine", "Mine.")
    fs = attach_remedies([Finding("dead_relu", "warning", "m"), Finding("nonfinite", "error", "m", remedies=[own])])
    assert fs[0].remedies[0].code == "use_leaky_relu" and fs[1].remedies == [own]


def test_rate_remedies_fit_the_optimizer() -> None:
    import torch

    from torchdoctor.doctor.remedies import fit_rate_remedies, optimizer_name
    from torchdoctor.findings import Finding
    from torchdoctor.optim import LARS

    w = [torch.nn.Parameter(torch.zeros(2))]
    assert optimizer_name(torch.optim.SGD(w, lr=0.1)) == "sgd"
    assert optimizer_name(torch.optim.SGD(w, lr=0.1, momentum=0.9)) == "sgdm"
    assert optimizer_name(torch.optim.AdamW(w)) == "adamw"
    assert optimizer_name(LARS(w, lr=1.0)) == "lars"
    assert optimizer_name(torch.optim.LBFGS(w)) is None

    def codes(lr: float) -> list[str]:
        f = Finding("loss_oscillating", "warning", "swings")
        f.remedies = remedies_for("loss_oscillating") + remedies_for("loss_plateau")
        fit_rate_remedies([f], torch.optim.Adam(w, lr=lr))
        return [r.code for r in f.remedies]

    assert "lower_lr_to_usual" in codes(0.5) and "raise_lr_to_usual" not in codes(0.5)
    assert "raise_lr_to_usual" in codes(1e-6) and "lower_lr_to_usual" not in codes(1e-6)
    assert not {"raise_lr_to_usual", "lower_lr_to_usual"} & set(codes(1e-3))
    unknown = Finding("loss_plateau", "warning", "flat")
    unknown.remedies = remedies_for("loss_plateau")
    fit_rate_remedies([unknown], torch.optim.LBFGS(w))
    assert unknown.remedies == remedies_for("loss_plateau")  # unknown optimizer: all kept

"""``torchdoctor checkup CONFIG --json`` through a real subprocess: one JSON document."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = """\
seed: 0
data:
  name: blobs
  scale: 100.0
  normalize: none
target:
  shift: label
  alpha: 0.1
  size: 300
"""


@pytest.mark.slow
def test_checkup_json_reports_data_and_shift_findings(tmp_path: Path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(CONFIG)
    cli = Path(sys.executable).with_name("torchdoctor")
    proc = subprocess.run([str(cli), "checkup", str(cfg), "--json"], capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # stdout is exactly one JSON document
    assert set(doc) == {"findings", "stats"}
    by_code = {f["code"]: f for f in doc["findings"]}
    # scale 100 and no normalization: an error with the normalize patch
    assert by_code["unnormalized_input"]["severity"] == "error"
    assert by_code["unnormalized_input"]["remedies"][0]["patch"] == {"data.normalize": "standard"}
    # Dirichlet(0.1) target priors: label shift found, with the reweight patch
    lab = by_code["label_shift"]
    assert lab["remedies"][0]["patch"] == {"train.reweight": "label"}
    q = lab["evidence"]["target_priors"]
    assert abs(sum(q) - 1) < 1e-6 and max(q) > 0.5
    assert "covariate" in doc["stats"]["shift"]


def test_checkup_bad_target_path_exits_2(tmp_path: Path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(CONFIG)
    cli = Path(sys.executable).with_name("torchdoctor")
    proc = subprocess.run([str(cli), "checkup", str(cfg), "--target", "npz:/nonexistent.npz",
                           "--json"], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 2

"""Two ``td.tune`` worker processes share one study on a real PostgreSQL server.

The fixture starts a private server on loopback: Debian's binaries (``/usr/lib/postgresql/*/bin``,
installed by ``scripts/ensure_postgres.sh``), ``initdb`` + ``pg_ctl`` in a temporary directory,
run as an unprivileged user when the tests run as root (``initdb`` refuses root). Without the
binaries the test fails on CI (``CI`` set) and skips elsewhere, saying why.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

import torchdoctor as td

ROOT = Path(__file__).resolve().parents[1]
SPACE = ("train.lr: {type: float, low: 0.01, high: 0.2, log: true}\n"
         "model.depth: {type: int, low: 1, high: 2}\n")


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """``postgresql://postgres@127.0.0.1:PORT/postgres`` of a private server, stopped after."""
    bindir = _pg_bin()
    if bindir is None:
        why = ("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: run "
               "`bash scripts/ensure_postgres.sh` (Debian's postgresql package)")
        if os.environ.get("CI"):
            pytest.fail(why)
        print(f"skipping: {why}", file=sys.stderr)
        pytest.skip(why)
    tmp = Path(tempfile.mkdtemp(prefix="torchdoctor-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the server runs as nobody
        nobody = pwd.getpwnam("nobody")
        os.chown(tmp, nobody.pw_uid, nobody.pw_gid)
        as_user = ["runuser", "-u", "nobody", "--"]
    data, port = tmp / "data", _free_port()
    run = {"capture_output": True, "text": True, "timeout": 120}
    r = subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                        "-U", "postgres", "--no-sync", "-E", "UTF8"], **run)  # type: ignore[call-overload]
    assert r.returncode == 0, f"initdb failed: {r.stderr.strip()}"
    opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
    r = subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l",
                        str(tmp / "server.log"), "-w", "-o", opts, "start"], **run)  # type: ignore[call-overload]
    assert r.returncode == 0, f"pg_ctl start failed: {r.stderr.strip() or r.stdout.strip()}"
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], **run)  # type: ignore[call-overload]
        shutil.rmtree(tmp, ignore_errors=True)


def test_two_worker_processes_share_one_study_on_postgresql(postgres_url: str,
                                                            tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE, encoding="utf-8")
    # two processes: this one and a spawned one, each opening the study by its URL, as a
    # `torchdoctor tune --storage URL --study shared` on another machine would; each works
    # for 3 s after its start (so both run trials however long the spawned one takes to start)
    r = td.tune(None, trials=10_000, space=space, storage=postgres_url, study="shared",
                workers=2, timeout=3.0, out=tmp_path / "a",
                overrides=["train.epochs=3", "model.width=16"])
    study = optuna.load_study(study_name="shared", storage=postgres_url.replace(
        "postgresql://", "postgresql+psycopg2://"))
    finished = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                                       optuna.trial.TrialState.PRUNED)]
    workers = {t.user_attrs["worker"] for t in study.trials}
    assert len(workers) == 2, workers  # trials came from both processes
    assert len({t.number for t in study.trials}) == len(study.trials)  # one numbering
    assert r.storage == postgres_url  # no password in it to mask
    assert r.n_trials == len(study.trials)
    assert r.n_complete + r.n_pruned_doctor + r.n_pruned_metric == len(finished)
    assert r.best_value == max(t.value for t in study.trials
                               if t.state == optuna.trial.TrialState.COMPLETE)
    # another run on the study (from another machine, say) sees every trial of both; asked
    # for no more finished trials than there are, it runs none
    again = td.tune(None, trials=len(finished), space=space, storage=postgres_url,
                    study="shared", out=tmp_path / "b",
                    overrides=["train.epochs=3", "model.width=16"])
    assert again.n_trials == r.n_trials and again.best_value == r.best_value

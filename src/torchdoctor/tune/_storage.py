"""Optuna storages: SQLite in the output directory by default, any RDB URL (PostgreSQL for
studies shared by several machines), with heartbeats so a killed worker's trial is marked
failed instead of running forever."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

from torchdoctor.rundir import show

__all__ = ["GRACE_S", "HEARTBEAT_S", "STUDY_DB", "check_url", "default_storage", "open_storage",
           "public_url", "with_driver"]

#: File name of the default SQLite storage inside the output directory.
STUDY_DB = "study.db"
#: Seconds between a running trial's heartbeats.
HEARTBEAT_S = 5
#: A running trial without a heartbeat for this long belongs to a dead worker: it is failed.
GRACE_S = 20
#: Attempts at opening a fresh database that another worker is setting up at the same time.
SCHEMA_ATTEMPTS = 5
#: Seconds a SQLite writer waits for another process's lock before giving up.
SQLITE_BUSY_S = 60

_DIALECTS = ("sqlite", "postgresql", "mysql", "oracle", "mssql")


def default_storage(out_dir: str | os.PathLike[str]) -> str:
    """``sqlite:///OUT/study.db`` (absolute path)."""
    return f"sqlite:///{Path(out_dir).resolve() / STUDY_DB}"


def public_url(url: str) -> str:
    """``url`` with its password masked (for output and reports)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - shown only; never the reason to fail
        return url.split("@")[-1] if "@" in url else url


def check_url(url: Any) -> str:
    """Refuse what is not a database URL Optuna can open (one line naming it)."""
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"--storage {show(url)}: not a database URL; e.g. sqlite:///study.db "
                         "or postgresql://user:password@host:5432/db")
    dialect = url.split("://", 1)[0].split("+", 1)[0].lower()
    if dialect not in _DIALECTS:
        raise ValueError(f"--storage {show(public_url(url))}: unknown database {dialect!r}; "
                         f"allowed: {', '.join(_DIALECTS)}")
    return url


def with_driver(url: str) -> str:
    """A ``postgresql://`` URL without a driver gets the installed one: SQLAlchemy 2.1 picks
    psycopg (3) by default, the ``[postgres]`` extra installs psycopg2."""
    scheme, sep, rest = url.partition("://")
    if scheme not in ("postgresql", "postgres"):
        return url
    import importlib.util

    for module, driver in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{driver}{sep}{rest}"
    raise ValueError(f"--storage {show(public_url(url))}: no PostgreSQL driver is installed; "
                     "pip install 'torchdoctor[postgres]'")


def open_storage(url: str) -> Any:
    """An ``optuna.storages.RDBStorage`` on ``url`` with heartbeats.

    Raises:
        ValueError: a bad URL, a missing database driver (names the extra to install), or a
            database that cannot be reached (one line).
    """
    import warnings

    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage

    check_url(url)
    shown = show(public_url(url))
    full = with_driver(url)
    kwargs: dict[str, Any] = {}
    if full.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": SQLITE_BUSY_S}}
    else:
        kwargs = {"pool_pre_ping": True}
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
                warnings.simplefilter("ignore", ExperimentalWarning)
                return RDBStorage(full, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S,
                                  grace_period=GRACE_S)
        except ModuleNotFoundError as exc:
            extra = "postgres" if url.startswith("postgres") else "optuna"
            raise ValueError(f"--storage {shown}: the database driver is missing ({exc.name}); "
                             f"pip install 'torchdoctor[{extra}]'") from None
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's many errors, in one line
            if _schema_race(exc) and attempt + 1 < SCHEMA_ATTEMPTS:
                # another worker is creating the tables of a fresh database right now
                time.sleep(0.2 + random.random())
                continue
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"--storage {shown}: cannot open the study storage "
                             f"({show(first, 160)})") from None
    raise AssertionError("unreachable")


def _schema_race(exc: BaseException) -> bool:
    """Two workers creating the tables of a fresh database at once: one of them gets a
    unique-key violation or an 'already exists' error; trying again finds the tables."""
    try:
        from sqlalchemy.exc import IntegrityError, ProgrammingError
    except ImportError:
        return False
    text = str(exc).lower()
    return isinstance(exc, (IntegrityError, ProgrammingError)) and (
        "duplicate key" in text or "already exists" in text)

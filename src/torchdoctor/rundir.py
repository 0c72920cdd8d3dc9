"""The run directory: its file names, the JSON encoding, atomic writes, JSONL logs, the lock.

Every writer and reader of a run directory (trainer, Doctor, repair, report) uses this module,
so the files agree on one encoding:

* Non-finite floats are written as the strings ``"nan"``, ``"inf"`` and ``"-inf"`` (plain
  JSON has no NaN); NumPy/torch scalars and arrays become numbers and lists, tuples lists,
  dictionary keys strings (:func:`jsonable`).
* Files that are replaced (``findings.json``, ``report.html``, ``checkpoint.pt``,
  ``config.yaml``) are written to a temporary file in the same directory, then moved over
  the old one with ``os.replace``: a kill leaves the old or the new file, never half of one,
  and a failed write removes its temporary file (:func:`atomic_write`).
* Logs (``metrics.jsonl``, ``vitals.jsonl``) are appended one JSON object per line and
  flushed; a reader skips a torn last line of a killed run (:func:`read_jsonl`).
* One process at a time trains in a directory (:func:`run_lock`, an advisory ``flock`` that
  the operating system releases when the process dies, even by ``kill -9``).

This module imports nothing heavy at import time (torch only inside the checkpoint functions).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "CHECKPOINT_FILE",
    "CHECKPOINT_KEYS",
    "CONFIG_BEFORE_FILE",
    "CONFIG_FILE",
    "FINDINGS_FILE",
    "JsonlLog",
    "LOCK_FILE",
    "METRICS_FILE",
    "REPAIR_FILE",
    "REPORT_FILE",
    "RUN_FILES",
    "RunDirError",
    "VITALS_FILE",
    "atomic_write",
    "atomic_write_json",
    "atomic_write_text",
    "dumps",
    "check_new_run_dir",
    "check_run_dir",
    "holds_run",
    "jsonable",
    "load_checkpoint",
    "new_run_dir",
    "prepare_dir",
    "read_jsonl",
    "remove_stale_temporaries",
    "rewind_jsonl",
    "rewrite_jsonl",
    "run_lock",
    "save_checkpoint",
    "show",
]

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
VITALS_FILE = "vitals.jsonl"
FINDINGS_FILE = "findings.json"
CHECKPOINT_FILE = "checkpoint.pt"
REPORT_FILE = "report.html"
#: ``repair`` writes the config it started from here (the repaired one is ``CONFIG_FILE``).
CONFIG_BEFORE_FILE = "config_before.yaml"
REPAIR_FILE = "repair.json"
#: Held (``flock``) by the process training in the directory; empty, left in place.
LOCK_FILE = ".torchdoctor.lock"
#: The logs a report can be rebuilt from.
RUN_FILES: tuple[str, ...] = (CONFIG_FILE, METRICS_FILE, VITALS_FILE, FINDINGS_FILE)
#: Files whose presence means "this directory holds a run".
_RUN_MARKERS: tuple[str, ...] = (*RUN_FILES, CHECKPOINT_FILE)

#: Longest value shown in a message (longer ones are cut with "...").
_SHOW_MAX = 80


class RunDirError(ValueError):
    """A run directory or one of its files cannot be used; the message is one line."""


def show(value: Any, limit: int = _SHOW_MAX) -> str:
    """``repr``-like text of ``value`` for a one-line message, at most ``limit`` characters.

    A longer text keeps its start and its end (a path's file name) around ``...``.
    """
    text = repr(value) if isinstance(value, str) else str(value)
    text = " ".join(text.split())  # one line
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2
    return text[:head] + "..." + text[len(text) - (limit - 3 - head):]


# ----------------------------------------------------------------------------- JSON

def jsonable(value: Any) -> Any:
    """A plain-JSON copy of ``value``.

    Non-finite floats become ``"nan"``/``"inf"``/``"-inf"``; NumPy and torch scalars or arrays
    become numbers or (nested) lists; tuples become lists; dictionary keys become strings.
    """
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # NumPy/torch scalars and arrays
        return jsonable(value.tolist())
    return value


def dumps(value: Any, *, indent: int | None = None) -> str:
    """``json.dumps`` of :func:`jsonable` ``(value)``; never writes ``NaN``/``Infinity``."""
    return json.dumps(jsonable(value), indent=indent, allow_nan=False)


# ----------------------------------------------------------------------------- atomic writes

def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Write a file through a temporary sibling and ``os.replace``.

    Args:
        path: the file to (re)place; its directory must exist.
        write: called with the temporary path; writes the whole content there.

    Returns:
        ``path`` as a :class:`~pathlib.Path`. If ``write`` or the move fails, the temporary
        file is removed and the error propagates; the old file, if any, is untouched.
    """
    p = Path(path)
    # a unique sibling (same file system, so os.replace is atomic), with the usual permissions
    tmp = p.with_name(f".{p.name}.{os.getpid()}-{secrets.token_hex(4)}{_TMP_SUFFIX}")
    try:
        write(tmp)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return p


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Replace ``path`` by ``text`` (UTF-8) atomically; see :func:`atomic_write`."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike[str], value: Any, *, indent: int | None = 1) -> Path:
    """Replace ``path`` by the JSON of ``value`` (encoded by :func:`dumps`) atomically."""
    return atomic_write_text(path, dumps(value, indent=indent))


# ----------------------------------------------------------------------------- JSONL

class JsonlLog:
    """An append-only JSONL file: each :meth:`write` is complete lines on disk at once.

    Args:
        path: the file (created if missing).
        fsync: also ``os.fsync`` after each write (the trainer's once-per-epoch metrics).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._fh: IO[str] | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, row: dict[str, Any]) -> None:
        """Append one row."""
        self.write_many((row,))

    def write_many(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows, one line each, in one write."""
        if self._fh is None:
            raise ValueError(f"{self.path.name} is closed")
        text = "".join(dumps(r) + "\n" for r in rows)
        if not text:
            return
        self._fh.write(text)
        self._fh.flush()
        if self._fsync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file. Idempotent."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_jsonl(path: str | os.PathLike[str], notes: list[str] | None = None) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, in order; missing file → ``[]``.

    Lines that are not JSON objects (a killed run's torn last line, stray bytes) are skipped;
    when ``notes`` is given, ``"NAME: skipped K unreadable line(s)"`` is appended to it.
    """
    p = Path(path)
    if not p.is_file():
        return []
    rows: list[dict[str, Any]] = []
    bad = 0
    with open(p, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                bad += 1
    if bad and notes is not None:
        notes.append(f"{p.name}: skipped {bad} unreadable line(s)")
    return rows


def rewrite_jsonl(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> Path:
    """Replace a JSONL file by ``rows`` atomically."""
    text = "".join(dumps(r) + "\n" for r in rows)
    return atomic_write_text(path, text)


def rewind_jsonl(path: str | os.PathLike[str], before_step: int, key: str = "step") -> int:
    """Keep the rows of a JSONL file whose ``key`` is below ``before_step`` (atomically).

    Used on resume: lines written after the checkpoint (a kill inside or after its write)
    would otherwise appear twice once the resumed run writes them again. Rows without an
    integer ``key`` are kept; a torn line is dropped. Missing file: nothing to do.

    Returns:
        The number of rows dropped.
    """
    p = Path(path)
    if not p.is_file():
        return 0
    rows = read_jsonl(p)
    keep = [r for r in rows if not (isinstance(r.get(key), int) and r[key] >= before_step)]
    raw_lines = sum(1 for line in p.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip())
    if len(keep) != raw_lines:
        rewrite_jsonl(p, keep)
    return raw_lines - len(keep)


# ----------------------------------------------------------------------------- directories

def new_run_dir(name: str, root: str | os.PathLike[str] = "runs") -> Path:
    """Create ``root/<YYYYmmdd-HHMMSS>-<name>`` (with a numeric suffix if it exists)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:64] or "run"
    base = Path(root) / f"{stamp}-{safe}"
    k = 1
    while True:
        path = base if k == 1 else base.with_name(f"{base.name}-{k}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            k += 1


_TMP_SUFFIX = ".tmp"


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files a killed writer left in run directory ``path``.

    Only names :func:`atomic_write` makes for the run's own files are touched; call it while
    holding :func:`run_lock` (no live writer then). Returns the names removed.
    """
    p = Path(path)
    removed = []
    for name in (*_RUN_MARKERS, REPORT_FILE, CONFIG_BEFORE_FILE, REPAIR_FILE):
        for tmp in p.glob(f".{name}.*{_TMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp.name)
    return removed


def holds_run(path: str | os.PathLike[str]) -> list[str]:
    """The run files present in directory ``path`` (empty: no run there, or not a directory)."""
    p = Path(path)
    try:
        if not p.is_dir():
            return []
        return [name for name in _RUN_MARKERS if (p / name).exists()]
    except OSError:
        return []


def check_run_dir(path: str | os.PathLike[str], *, what: str = "--resume") -> Path:
    """``path`` as an existing directory holding ``config.yaml``, or :class:`RunDirError`."""
    p = Path(path)
    where = f"{what} {show(str(p))}"
    try:
        if not p.is_dir():
            raise RunDirError(f"{where}: {'is not a directory' if p.exists() else 'does not exist'}"
                              "; expected the directory of a run")
        if not (p / CONFIG_FILE).is_file():
            raise RunDirError(f"{where}: no {CONFIG_FILE} there")
    except OSError as exc:
        raise RunDirError(f"{where}: cannot be used ({_os_reason(exc)})") from None
    return p


def check_new_run_dir(path: str | os.PathLike[str], *, overwrite: bool = False,
                      what: str = "--out") -> list[str]:
    """Check a directory for a new run without touching it; return the run files present.

    Raises:
        RunDirError: ``path`` is a file or unusable, or holds a run and not ``overwrite``.
    """
    p = Path(path)
    where = f"{what} {show(str(p))}"
    try:
        if p.exists() and not p.is_dir():
            raise RunDirError(f"{where}: is a file; expected a directory")
    except OSError as exc:
        raise RunDirError(f"{where}: cannot be used ({_os_reason(exc)})") from None
    present = holds_run(p)
    if present and not overwrite:
        raise RunDirError(f"{where} holds a run ({', '.join(present)}); continue it with "
                          "--resume, replace it with --overwrite, or choose another --out")
    return present


def prepare_dir(path: str | os.PathLike[str], *, what: str = "--out") -> Path:
    """Create directory ``path`` (and parents) or raise :class:`RunDirError` in one line.

    Refused: an existing file, a name too long for the file system, a path where
    directories cannot be made (``/proc``, read-only, no permission).
    """
    p = Path(path)
    try:
        if p.exists() and not p.is_dir():
            raise RunDirError(f"{what} {show(str(p))}: is a file; expected a directory")
        p.mkdir(parents=True, exist_ok=True)
        probe = p / LOCK_FILE
        probe.touch(exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{what} {show(str(p))}: cannot create a run directory there "
                          f"({_os_reason(exc)})") from None
    return p


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return "name too long"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno == errno.ENOTDIR:
        return "a parent is not a directory"
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    return exc.strerror or type(exc).__name__


_held: dict[str, list[Any]] = {}  # realpath -> [open lock file, depth]
_held_guard = threading.Lock()


@contextlib.contextmanager
def run_lock(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the run directory ``path`` for this process (re-entrant within it).

    Raises:
        RunDirError: another process holds it.
    """
    p = prepare_dir(path)
    key = os.path.realpath(p)
    with _held_guard:
        entry = _held.get(key)
        if entry is not None:
            entry[1] += 1
        else:
            fh = open(p / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - closed below
            if not _try_flock(fh):
                fh.close()
                raise RunDirError(
                    f"run directory {show(str(p))} is in use by another torchdoctor process; "
                    "wait for it to finish or choose another --out")
            entry = _held[key] = [fh, 1]
    try:
        yield p
    finally:
        with _held_guard:
            entry[1] -= 1
            if entry[1] == 0:
                _held.pop(key, None)
                entry[0].close()  # closing the file releases the flock


def _try_flock(fh: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


# ----------------------------------------------------------------------------- checkpoints

#: Keys every checkpoint the trainer writes holds.
CHECKPOINT_KEYS: tuple[str, ...] = ("version", "epoch", "step", "model", "optimizer")


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """``torch.save`` atomically (temporary file + ``os.replace``)."""
    import torch

    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a trainer checkpoint with ``weights_only=True`` and check its keys.

    Raises:
        RunDirError: missing, a directory, empty, unreadable (truncated, not a torch file,
            pickled objects other than tensors) or lacking one of :data:`CHECKPOINT_KEYS`.
    """
    import pickle

    import torch

    p = Path(path)
    name = show(str(p))
    if p.is_dir():
        raise RunDirError(f"checkpoint {name}: is a directory; expected a file written by train")
    if not p.is_file():
        raise RunDirError(f"checkpoint {name}: does not exist")
    if p.stat().st_size == 0:
        raise RunDirError(f"checkpoint {name}: is empty (0 bytes); expected a file written by train")
    try:
        with warnings.catch_warnings():  # torch's own hints would add lines to a one-line error
            warnings.simplefilter("ignore")
            state = torch.load(p, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError, KeyError,
            AttributeError, TypeError, ImportError, IndexError) as exc:
        kind = "holds objects other than tensors" if "weights_only" in str(exc) or "Unsupported" in str(exc) \
            else "is truncated or not a torch checkpoint"
        raise RunDirError(f"checkpoint {name}: cannot be read ({kind}); "
                          "expected a checkpoint.pt written by train") from None
    if not isinstance(state, dict):
        raise RunDirError(f"checkpoint {name}: holds a {type(state).__name__}; expected a dict "
                          f"with keys {', '.join(CHECKPOINT_KEYS)}")
    missing = [k for k in CHECKPOINT_KEYS if k not in state]
    if missing:
        raise RunDirError(f"checkpoint {name}: missing keys {', '.join(missing)}; "
                          f"expected {', '.join(CHECKPOINT_KEYS)}")
    if not isinstance(state["epoch"], int) or not isinstance(state["step"], int) \
            or state["epoch"] < 0 or state["step"] < 0:
        raise RunDirError(f"checkpoint {name}: epoch/step must be integers >= 0, got "
                          f"{show(state['epoch'])}/{show(state['step'])}")
    return state

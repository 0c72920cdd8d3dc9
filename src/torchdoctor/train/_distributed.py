"""Data-parallel training for the config trainer: the process group, the batch shards, and the
decisions every rank must take together.

``torchrun --nproc_per_node N -m torchdoctor train CONFIG`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set. :func:`setup` joins them into one
process group (gloo: the config trainer trains on the CPU; NCCL is added for CUDA
tensors when CUDA is there), the trainer wraps its model in
``DistributedDataParallel`` and gives each rank the slice ``rank::world_size`` of every
global batch (``train.batch_size`` is the global batch, so a config trains the same model on
any number of processes). Rank 0 alone writes the run directory and prints; whatever one rank
decides (stop early, refuse an argument) is broadcast so that no rank waits forever on the
others.
"""

from __future__ import annotations

import datetime
import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "agree", "all_sum", "broadcast_flag", "current", "setup", "shard",
           "shutdown"]

#: Whether :func:`setup` created the process group (then :func:`shutdown` destroys it).
_owned = False

#: Longest error message :func:`agree` passes on (bytes).
_MESSAGE_BYTES = 4096

#: How long a collective waits for the other ranks before it fails (a crashed rank ends the
#: run with an error instead of a hang).
TIMEOUT = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class DistInfo:
    """This process's place in a data-parallel run.

    Attributes:
        rank: this process (0 writes and prints).
        world_size: processes in the run (> 1).
    """

    rank: int
    world_size: int

    @property
    def main(self) -> bool:
        """Rank 0: the only one that writes files and prints."""
        return self.rank == 0


def current() -> DistInfo | None:
    """The running process group when it has more than one rank, else ``None``."""
    if not (dist.is_available() and dist.is_initialized()):
        return None
    world = dist.get_world_size()
    return DistInfo(dist.get_rank(), world) if world > 1 else None


def setup() -> DistInfo | None:
    """Join the process group ``torchrun`` described in the environment (``WORLD_SIZE`` > 1);
    ``None`` for a single process. An existing process group is used as it is.

    Raises:
        ValueError: ``WORLD_SIZE`` or ``RANK`` is not a whole number, or torch was built
            without ``torch.distributed``.
    """
    info = current()
    if info is not None:
        return info
    raw = os.environ.get("WORLD_SIZE", "1")
    try:
        world = int(raw)
        rank = int(os.environ.get("RANK", "0"))
    except ValueError:
        raise ValueError(f"WORLD_SIZE = {raw!r}, RANK = {os.environ.get('RANK')!r}: must be whole "
                         "numbers (start several processes with torchrun)") from None
    if world <= 1:
        return None
    if not dist.is_available():
        raise ValueError(f"WORLD_SIZE = {world}: this torch has no torch.distributed")
    dist.init_process_group(backend(), rank=rank, world_size=world, timeout=TIMEOUT)
    global _owned
    _owned = True
    return current()


def shutdown() -> None:
    """Destroy the process group :func:`setup` created (nothing otherwise): once nothing
    refers to it any more, so that no gloo work is left to the interpreter's exit, where
    destroying it can abort the process."""
    global _owned
    if _owned and dist.is_available() and dist.is_initialized():
        gc.collect()  # models wrapped in DistributedDataParallel hold the group
        dist.destroy_process_group()
    _owned = False


def backend() -> str:
    """gloo for CPU tensors; with CUDA, NCCL for CUDA tensors beside it (one group, both)."""
    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"


def shard(batch: torch.Tensor, info: DistInfo | None) -> torch.Tensor:
    """This rank's part of a global batch of sample indices: ``batch[rank::world_size]``
    (disjoint, together the whole batch; sizes differ by at most one)."""
    return batch if info is None else batch[info.rank::info.world_size]


def all_sum(values: list[float]) -> list[float]:
    """The sums over the ranks of ``values`` (float64; one collective). One process: as given."""
    if current() is None:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def broadcast_flag(flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank (one collective). One process: ``flag``."""
    if current() is None:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int64)
    dist.broadcast(t, src=0)
    return bool(t.item())


def agree(error: str | None) -> None:
    """Every rank raises the first rank's error, or none does (one collective).

    Call where a check may fail on some ranks only (rank 0 checks the run directory): without
    it the other ranks would wait in the next collective for a rank that has left.

    Raises:
        ValueError: some rank passed an error (the lowest rank's message).
    """
    info = current()
    if info is None:
        if error is not None:
            raise ValueError(error)
        return
    # the lowest failing rank (world_size: none), then its message as bytes: CPU tensors only
    first = torch.tensor([info.rank if error is not None else info.world_size])
    dist.all_reduce(first, op=dist.ReduceOp.MIN)
    src = int(first.item())
    if src == info.world_size:
        return
    buf = torch.zeros(_MESSAGE_BYTES, dtype=torch.uint8)
    if info.rank == src:
        raw = str(error).encode("utf-8")[:_MESSAGE_BYTES]
        buf[:len(raw)] = torch.tensor(list(raw), dtype=torch.uint8)
    dist.broadcast(buf, src=src)
    raise ValueError(bytes(buf.tolist()).rstrip(b"\0").decode("utf-8", "replace"))

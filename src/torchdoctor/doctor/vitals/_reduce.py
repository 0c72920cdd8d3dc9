"""Vitals of a data-parallel run, reduced across ranks at each flush (never per step).

Under ``DistributedDataParallel`` every rank sees its own slice of each batch. After the
backward pass the gradients are already averaged over the ranks, so gradient, parameter and
update norms are the same on every rank and need no reduction. What differs per rank is the
batch itself; at a flush :class:`RankReducer` combines, for the steps of that flush:

- the loss: the mean over the ranks (a NaN or Inf on any rank stays visible);
- the training accuracy counts ``train_correct``/``train_count``: summed;
- the class histogram of the targets: summed.

Activation, input and output statistics and the BatchNorm batch sizes stay those of the
rank itself (the per-process batch is what BatchNorm normalizes over). Two collectives per
flush: a header that every rank compares (steps, first step, sampled steps, histogram
widths) and, when all headers agree, one sum of the packed values. When they disagree (a
time budget sampled different steps on different ranks) the flush keeps the local values and
says so once; every rank takes the same decision, so no rank waits for another.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from torchdoctor.doctor.vitals._records import measured

__all__ = ["RankReducer", "rank_world"]


def rank_world() -> tuple[int, int] | None:
    """``(rank, world_size)`` of the running process group when it has more than one rank."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    world = dist.get_world_size()
    return (dist.get_rank(), world) if world > 1 else None


def _number(v: Any) -> float | None:
    """A record's loss as a float (``"nan"``, ``"inf"`` back to floats), ``None`` if absent."""
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class RankReducer:
    """Reduces one flush's step records across the ranks of the default process group.

    Args:
        world_size: ranks in the group.
        device: where the packed values go for the collective (a CUDA device with NCCL).
        warn: called once per problem with a short message.
    """

    def __init__(self, world_size: int, device: torch.device,
                 warn: Callable[[str, str], None]) -> None:
        self.world_size = world_size
        self.device = device
        self._warn = warn
        #: flushes reduced, and left local because the ranks' records differed
        self.reduced = 0
        self.skipped = 0

    def _collective_device(self) -> torch.device:
        import torch.distributed as dist

        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")

    def __call__(self, records: list[dict[str, Any]]) -> None:
        """Reduce ``records`` (one flush, oldest first) in place. Every rank must call it at the
        same flush."""
        import torch.distributed as dist

        dev = self._collective_device()
        acc = [i for i, r in enumerate(records) if "train_count" in r]
        hists = [(i, r["targets"]["hist"]) for i, r in enumerate(records)
                 if isinstance(r.get("targets"), dict) and isinstance(r["targets"].get("hist"), list)]
        first = records[0].get("step") if records else -1
        header = torch.tensor([len(records), int(first or 0), len(acc), sum(acc),
                               sum(len(h) for _, h in hists), sum(i for i, _ in hists)],
                              dtype=torch.int64, device=dev)
        every = [torch.empty_like(header) for _ in range(self.world_size)]
        dist.all_gather(every, header)
        if any(not torch.equal(h, header) for h in every):
            self.skipped += 1
            self._warn("reduce", "the ranks flushed different steps (a time budget sampled "
                       "different steps; pass sample_every= for the same steps on every rank): "
                       "those flushes keep this rank's own loss and accuracy")
            return
        if not records:
            return
        losses = [_number(r.get("loss")) for r in records]
        packed: list[float] = [0.0 if v is None else v for v in losses]
        packed += [0.0 if v is None else 1.0 for v in losses]
        for i in acc:
            packed += [float(records[i].get("train_correct") or 0.0), float(records[i]["train_count"])]
        for _, h in hists:
            packed += [float(x) for x in h]
        t = torch.tensor(packed, dtype=torch.float64, device=dev)
        dist.all_reduce(t)
        out = t.cpu().tolist()
        n = len(records)
        for k, r in enumerate(records):
            total, present = out[k], out[n + k]
            if present > 0:
                r["loss"] = measured(total / present)
        at = 2 * n
        for i in acc:
            records[i]["train_correct"], records[i]["train_count"] = out[at], out[at + 1]
            at += 2
        for i, h in hists:
            records[i]["targets"]["hist"] = [int(round(x)) if math.isfinite(x) else 0
                                             for x in out[at:at + len(h)]]
            at += len(h)
        self.reduced += 1

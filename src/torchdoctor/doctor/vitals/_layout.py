"""The layout of a sampled step's statistics: named blocks of columns, used both to place
values and to decode them.

A sampled step is one row of ``width`` numbers; each :class:`Block` owns a contiguous range
of columns, a shape per row and a fill value meaning "not measured". The recorder places each
device value at ``Layout.start(name) + k`` of its row; at a flush it copies all values to the
host at once, writes them into rows from :meth:`Layout.empty_row`, and :meth:`Layout.decode`
cuts each row back into the same named blocks, so placing and decoding cannot disagree about
column offsets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Block", "Layout"]


@dataclass(frozen=True)
class Block:
    """One named statistic family in the buffer.

    Attributes:
        name: key used to view and decode it (e.g. ``"grad"``, ``"act"``).
        shape: shape of the block within one row (e.g. ``(P,)`` or ``(A, 5)``).
        fill: value meaning "not measured" (``-1`` for norms, so a real NaN stays visible;
            NaN elsewhere; ``0`` for counts).
    """

    name: str
    shape: tuple[int, ...]  # at least one dimension
    fill: float = math.nan

    @property
    def size(self) -> int:
        """Columns this block takes in a row."""
        return math.prod(self.shape)


class Layout:
    """Column ranges of named blocks in a row of ``width`` floats.

    Args:
        blocks: the blocks, in column order; names must be unique.

    Raises:
        ValueError: two blocks share a name, or a block has a negative dimension.
    """

    def __init__(self, blocks: Sequence[Block]) -> None:
        self.blocks = tuple(blocks)
        self._slices: dict[str, slice] = {}
        self._blocks = {b.name: b for b in self.blocks}
        start = 0
        for b in self.blocks:
            if b.name in self._slices:
                raise ValueError(f"block names must be unique, got {b.name!r} twice")
            if not b.shape or any(d < 0 for d in b.shape):
                raise ValueError(f"block {b.name!r} shape must have dimensions >= 0, got {b.shape}")
            self._slices[b.name] = slice(start, start + b.size)
            start += b.size
        self.width = start
        self._fill_row = [b.fill for b in self.blocks for _ in range(b.size)]

    def __contains__(self, name: object) -> bool:
        return name in self._slices

    def columns(self, name: str) -> slice:
        """The column range of block ``name``."""
        return self._slices[name]

    def with_block(self, block: Block) -> Layout:
        """A layout with ``block`` appended (columns of the existing blocks unchanged)."""
        return Layout((*self.blocks, block))

    def start(self, name: str) -> int:
        """First column of block ``name``."""
        return self._slices[name].start

    def empty_row(self) -> list[float]:
        """A new row with every column at its block's fill value."""
        return list(self._fill_row)

    def decode(self, row: Sequence[float]) -> dict[str, list[float]]:
        """Cut one row (``width`` numbers) into its blocks, flattened: ``{name: [..]}``.

        Raises:
            ValueError: ``row`` does not have ``width`` numbers.
        """
        if len(row) != self.width:
            raise ValueError(f"row must have {self.width} numbers, got {len(row)}")
        return {name: list(row[sl]) for name, sl in self._slices.items()}

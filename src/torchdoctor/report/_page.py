"""A report page composed from sections: the public way to build a torchdoctor HTML page.

Example::

    from torchdoctor.report import Section, findings_section, render_page

    page = render_page("my study", [
        Section("notes", "Notes", "<p>Two runs, one seed each.</p>"),
        findings_section(findings, id="findings-a", title="Findings of run A"),
    ])

The page is self-contained (the report's CSS inline, no script, no external fetch) and has a
navigation bar with one link per titled section.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from torchdoctor.report._style import CSS

__all__ = ["Section", "render_page"]

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Section:
    """One section of a page: ``<section id=...><h2>title</h2>body</section>``.

    Args:
        id: the HTML id and link anchor (a letter, then letters, digits, ``-`` or ``_``);
            unique within a page.
        title: the heading, plain text (escaped); ``None``: no heading and no link in the
            navigation bar.
        body: the section's HTML (trusted: escape every string from data before it goes here).
        nav_label: the navigation bar's link text (default: the title; ``""``: no link).
        count: a number shown beside the heading (e.g. how many findings).
    """

    id: str
    title: str | None
    body: str
    nav_label: str | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.fullmatch(self.id):
            raise ValueError("Section id must be a letter followed by letters, digits, '-' or "
                             f"'_', got {self.id!r}")
        if not isinstance(self.body, str):
            raise ValueError(f"Section body must be a str of HTML, got {type(self.body).__name__}")

    @property
    def link(self) -> str | None:
        """The navigation bar's link text, or ``None`` when the section has no link."""
        label = self.title if self.nav_label is None else self.nav_label
        return label or None

    def html(self) -> str:
        """The section as HTML."""
        head = ""
        if self.title is not None:
            count = f' <span class="count">{self.count}</span>' if self.count is not None else ""
            head = f"<h2>{escape(self.title)}{count}</h2>"
        return f'<section id="{self.id}">{head}{self.body}</section>'


def render_page(title: str, sections: Sequence[Section], *, header: str = "", css: str = "",
                footer: str | None = None) -> str:
    """A whole self-contained HTML page made of ``sections``.

    Args:
        title: the page heading and window title (plain text, escaped).
        sections: the sections, in page order; their ids must differ.
        header: trusted HTML shown under the heading (a verdict, a subtitle).
        css: extra CSS appended to the report's style sheet.
        footer: trusted HTML for the footer (default: none).

    Returns:
        The page as one HTML string.

    Raises:
        ValueError: two sections share an id, or a section is not a :class:`Section`.
    """
    seen: set[str] = set()
    for s in sections:
        if not isinstance(s, Section):
            raise ValueError(f"sections must be Section objects, got {type(s).__name__}")
        if s.id in seen:
            raise ValueError(f"two sections have id {s.id!r}: ids must be unique in a page")
        seen.add(s.id)
    links = "".join(f'<a href="#{s.id}">{escape(s.link)}</a>' for s in sections if s.link)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{escape(title)} — torchdoctor report</title>",
        f"<style>{CSS}{css}</style></head><body><main>",
        f"<header><h1>{escape(title)}</h1>",
        header,
        f"<nav>{links}</nav></header>" if links else "</header>",
        *(s.html() for s in sections),
        f"<footer>{footer}</footer>" if footer else "",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)

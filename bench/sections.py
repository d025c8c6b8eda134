"""The sections of docs/benchmarks.md that a benchmark rewrites, each between its own markers."""

from __future__ import annotations

from pathlib import Path


def replace_section(doc: Path, begin: str, end: str, body: str) -> None:
    """Put ``body`` between the markers ``begin`` and ``end`` of ``doc``: in place of what they held,
    else at the end (a new document gets its title)."""
    section = f"{begin}\n{body}\n{end}"
    if not doc.exists():
        doc.write_text(f"# Benchmarks\n\n{section}\n")
        return
    text = doc.read_text()
    start, stop = text.find(begin), text.find(end)
    if 0 <= start < stop:
        text = text[:start] + section + text[stop + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.write_text(text)

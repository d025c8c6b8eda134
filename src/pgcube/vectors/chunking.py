"""Entries into chunks of text (SPEC §13): pure.

A chunk is a window of at most ``size`` characters cut at whitespace; the next
window begins with the words of the last ``overlap`` characters of the one
before, so a sentence cut in two is whole in one of them. A word longer than a
window is cut inside. HTML is turned into its text first (scripts and styles
dropped); JSON content is embedded as its JSON text.
"""

from __future__ import annotations

import html.parser
import re
from typing import Any

import msgspec

_WORD = re.compile(r"\S+")
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}
)
_SILENT_TAGS = frozenset({"script", "style", "template", "noscript"})


def text_of(content: Any, content_type: str) -> str:
    """The text of an entry's ``content`` as the embedder reads it."""
    if content_type == "json":
        return content if isinstance(content, str) else msgspec.json.encode(content).decode()
    if content_type == "html":
        return html_text(content)
    return str(content)


def html_text(markup: str) -> str:
    """The visible text of an HTML fragment, blocks on lines of their own."""
    reader = _TextReader()
    reader.feed(markup)
    reader.close()
    return re.sub(r"[ \t]*\n\s*", "\n", "".join(reader.parts)).strip()


class _TextReader(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._silent = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _SILENT_TAGS:
            self._silent += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SILENT_TAGS:
            self._silent = max(0, self._silent - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._silent:
            self.parts.append(data)


def chunks(text: str, size: int, overlap: int) -> list[str]:
    """``text`` in windows of at most ``size`` characters cut at whitespace, each after the first
    starting ``overlap`` characters (rounded to a word) before the end of the one before."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    pieces: list[str] = []
    first = 0
    while first < len(words):
        start = words[first][0]
        last = first
        while last + 1 < len(words) and words[last + 1][1] - start <= size:
            last += 1
        end = words[last][1]
        if end - start > size:  # one word longer than a window: cut it
            pieces.append(text[start : start + size])
            remainder = text[start + size : end]
            words[first] = (start + size, end) if remainder else words[first]
            continue
        pieces.append(text[start:end])
        if last + 1 >= len(words):
            break
        following = last + 1
        while following - 1 > first and end - words[following - 1][0] <= overlap:
            following -= 1
        first = following
    return pieces

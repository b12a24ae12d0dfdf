"""A session's title from its first message: one short line a person can scan in a list.

The first meaningful line of the user's text, with attached context, code blocks, markup
(HTML/XML tags) and markdown syntax taken out, cut at a word to at most :data:`MAX_TITLE`
characters.
"""

from __future__ import annotations

import re

MAX_TITLE = 60

_CONTEXT = re.compile(r"<context\b[^>]*>.*?</context>", re.S)  # caw.attachments' blocks
_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
_TAG = re.compile(r"</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_LINE_START = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*+]\s+(?:\[[ xX]\]\s+)?|\d+[.)]\s+)+")
_EMPHASIS = re.compile(r"(\*\*|__|~~|`+)(.+?)\1")
_SINGLE = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_RULE = re.compile(r"^\s*([-*_=])(\s*\1){2,}\s*$")


def _plain(line: str) -> str:
    line = _LINE_START.sub("", line)
    line = _IMAGE.sub(r"\1", line)
    line = _LINK.sub(r"\1", line)
    line = _EMPHASIS.sub(r"\2", line)
    line = _SINGLE.sub(r"\2", line)
    return " ".join(line.replace("`", "").split())


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:  # cut at a word when that keeps most of the line
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def title_from_message(message: str, limit: int = MAX_TITLE) -> str:
    """The title for a session whose first message is ``message`` ("" if it has no text)."""
    text = _TAG.sub(" ", _FENCE.sub("\n", _CONTEXT.sub("\n", message)))
    for line in text.splitlines():
        if _RULE.match(line):
            continue
        plain = _plain(line)
        if any(ch.isalnum() for ch in plain):
            return _shorten(plain, limit)
    # Only code or symbols: the first non-empty line as it is, rather than no title.
    for line in message.splitlines():
        if line.strip():
            return _shorten(" ".join(line.split()), limit)
    return ""

"""Old and new text of a proposed file change, for the diff a person is shown.

codex (``fileChange`` items) and opencode (``permission.asked`` metadata) describe
an edit as a unified diff; claude sends the tool input. Either way the question
carries the file's current text and the text it would have afterwards.
"""

from __future__ import annotations

import re
from pathlib import Path

from .models import FileDiff

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def read_text(path: str | Path) -> str | None:
    """The file's current text; None when it does not exist or cannot be read as text."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def apply_unified(old: str, diff: str) -> str | None:
    """``old`` with the unified ``diff`` applied; None when the diff does not fit ``old``."""
    old_lines = old.splitlines(keepends=True)
    out: list[str] = []
    position = 0  # index into old_lines
    lines = diff.splitlines(keepends=True)
    i = 0
    seen_hunk = False
    while i < len(lines):
        match = _HUNK.match(lines[i])
        if not match:
            i += 1
            continue
        seen_hunk = True
        start = max(int(match.group(1)) - 1, 0)
        if int(match.group(2) or "1") == 0:  # an empty range names the line before it
            start = int(match.group(1))
        if start < position or start > len(old_lines):
            return None
        out.extend(old_lines[position:start])
        position = start
        i += 1
        while i < len(lines) and not lines[i].startswith("@@"):
            line = lines[i]
            tag, body = line[:1], line[1:]
            if tag == " ":
                if position >= len(old_lines) or old_lines[position].rstrip("\n") != body.rstrip(
                    "\n"
                ):
                    return None
                out.append(old_lines[position])
                position += 1
            elif tag == "-":
                if position >= len(old_lines) or old_lines[position].rstrip("\n") != body.rstrip(
                    "\n"
                ):
                    return None
                position += 1
            elif tag == "+":
                out.append(body if body.endswith("\n") else body + "\n")
            elif tag == "\\" and out and out[-1].endswith("\n"):
                out[-1] = out[-1][:-1]  # "\ No newline at end of file": the line before has none
            i += 1
    if not seen_hunk:
        return None
    out.extend(old_lines[position:])
    return "".join(out)


def diff_from_unified(path: str, diff: str) -> FileDiff:
    """The change a unified ``diff`` makes to ``path``, as old/new text (best effort: when the
    diff does not apply to the file as it is, the new text is the diff itself)."""
    old = read_text(path)
    new = apply_unified(old or "", diff)
    return FileDiff(path=path, old_text=old, new_text=new if new is not None else diff)


def diff_from_texts(path: str, new_text: str, old_text: str | None = None) -> FileDiff:
    """A whole-file write (``old_text`` defaults to what the file holds now)."""
    return FileDiff(
        path=path, old_text=old_text if old_text is not None else read_text(path), new_text=new_text
    )

"""Old and new text of a file change, for the diff a person is shown.

codex (``fileChange`` items) and opencode (``permission.asked`` metadata, tool part
metadata) describe an edit as a unified diff; claude sends the tool input. A question
(before the edit) carries the file's current text and the text it would have
afterwards; a finished edit's tool call (:mod:`caw.events`) reads the file as it is
now and undoes the diff to get the text it had.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


def reverse_unified(diff: str) -> str:
    """The unified ``diff`` that undoes ``diff`` (added and removed lines swapped)."""
    out: list[str] = []
    in_hunks = False
    for line in diff.splitlines(keepends=True):
        match = _HUNK.match(line)
        if match:
            in_hunks = True
            old_start, old_len, new_start, new_len = match.groups()
            old = old_start + (f",{old_len}" if old_len is not None else "")
            new = new_start + (f",{new_len}" if new_len is not None else "")
            out.append(f"@@ -{new} +{old} @@\n")
        elif in_hunks and line[:1] == "+":
            out.append("-" + line[1:])
        elif in_hunks and line[:1] == "-":
            out.append("+" + line[1:])
        elif in_hunks:
            out.append(line)
    return "".join(out)


def diff_after_unified(path: str, diff: str) -> FileDiff | None:
    """The change a unified ``diff`` made to ``path``, read after it was applied: the new
    text is the file's, the old one that text with the diff undone. None when the file is
    gone or the diff does not undo cleanly (the file changed again since)."""
    new = read_text(path)
    old = apply_unified(new, reverse_unified(diff)) if new is not None else None
    return (
        FileDiff(path=path, old_text=old, new_text=new)
        if old is not None and new is not None
        else None
    )


def edit_diff(tool: str, raw: Mapping[str, Any], path: str, before: str | None) -> FileDiff | None:
    """claude's ``Write``/``Edit``/``MultiEdit`` input applied to ``before`` (the file's text;
    None: it does not exist yet). None for other tools or an input of another shape."""
    if tool == "Write" and isinstance(raw.get("content"), str):
        return FileDiff(path=path, old_text=before, new_text=raw["content"])
    edits = raw.get("edits") if tool == "MultiEdit" else [raw] if tool == "Edit" else None
    if not isinstance(edits, list) or before is None:
        return None
    after = before
    for edit in edits:
        if not isinstance(edit, Mapping):
            return None
        old, new = edit.get("old_string"), edit.get("new_string")
        if not isinstance(old, str) or not isinstance(new, str):
            return None
        after = after.replace(old, new) if edit.get("replace_all") else after.replace(old, new, 1)
    return FileDiff(path=path, old_text=before, new_text=after)


def first_changed_line(diff: FileDiff) -> int | None:
    """The 1-based line where ``diff``'s old and new text first differ (None: no difference)."""
    old = (diff.old_text or "").splitlines()
    new = diff.new_text.splitlines()
    for number, (a, b) in enumerate(zip(old, new, strict=False), start=1):
        if a != b:
            return number
    if len(old) != len(new):
        return min(len(old), len(new)) + 1
    return None

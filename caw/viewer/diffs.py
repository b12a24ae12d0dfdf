"""File edits found in tool calls, as unified diffs (claude, codex and opencode name them apart)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any


@dataclass
class FileDiff:
    path: str
    diff: str  # unified diff text


def _lines_diff(path: str, old: str, new: str) -> str:
    return "".join(
        line if line.endswith("\n") else line + "\n"  # a last line without newline stays one line
        for line in difflib.unified_diff(
            old.splitlines(), new.splitlines(), fromfile=f"a/{path.lstrip('/')}", tofile=f"b/{path.lstrip('/')}",
            lineterm="",
        )
    )  # fmt: skip


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def edit_diffs(name: str, args: dict[str, Any]) -> list[FileDiff]:
    """The file changes a tool call made, if it is an edit or write tool; else []."""
    path = _str(args.get("file_path")) or _str(args.get("filePath")) or _str(args.get("path"))
    lowered = name.lower()
    if path and lowered in ("edit", "str_replace_based_edit_tool", "multiedit"):
        listed = args.get("edits")
        edits: list[Any] = listed if isinstance(listed, list) else [args]
        out = []
        for edit in edits:
            if not isinstance(edit, dict):
                continue
            old = _str(edit.get("old_string")) or _str(edit.get("oldString")) or ""
            new = _str(edit.get("new_string")) or _str(edit.get("newString")) or ""
            out.append(FileDiff(path, _lines_diff(path, old, new)))
        return out
    if path and lowered == "write":
        content = _str(args.get("content")) or ""
        return [FileDiff(path, _lines_diff(path, "", content))]
    changes = args.get("changes")
    if isinstance(changes, list):  # codex fileChange: [{path, kind, diff}]
        out = []
        for change in changes:
            if isinstance(change, dict) and _str(change.get("path")):
                out.append(FileDiff(str(change["path"]), _str(change.get("diff")) or ""))
        return out
    patch = _str(args.get("patch")) or _str(args.get("input"))
    if lowered == "apply_patch" and patch:
        return [FileDiff("(patch)", patch)]
    return []

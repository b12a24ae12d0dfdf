"""The session's remembered rules, kept beside its trajectory in the data dir.

``permissions.json`` is written owner-only and atomically (temp file, fsync,
rename), like the rest of the session directory, so a crash leaves the old or
the new rule list, never half of one. The CLIs forget their own session rules
when their process ends; this file is what makes an "always" outlast a
backend restart and a resume.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import Field, ValidationError

from ..errors import PersistenceFailed
from ..models import CawModel
from ..store import DIR_MODE, atomic_write_text
from ..store_safety import read_text_nofollow
from .rules import PermissionRule

log = logging.getLogger("caw.permissions")

FILE_NAME = "permissions.json"


class RuleFile(CawModel):
    """The on-disk record."""

    rules: list[PermissionRule] = Field(default_factory=list)


class RuleStore:
    """Session rules, in memory and (with a session directory) on disk."""

    def __init__(self, directory: str | os.PathLike[str] | None = None):
        self.path = Path(directory) / FILE_NAME if directory is not None else None
        self.rules: list[PermissionRule] = self._load()

    def _load(self) -> list[PermissionRule]:
        if self.path is None or not self.path.exists():
            return []
        try:
            # Like the rest of the session folder: a link planted there is not followed.
            return RuleFile.model_validate_json(read_text_nofollow(self.path)).rules
        except (OSError, ValueError, ValidationError) as exc:
            # An unreadable file must not allow anything: start with no rules (everything asks).
            log.warning("ignoring unreadable permission rules in %s: %s", self.path, exc)
            return []

    def add(self, rule: PermissionRule) -> None:
        """Remember ``rule`` (replacing one for the same tool and pattern) and save."""
        self.rules = [r for r in self.rules if (r.tool, r.pattern) != (rule.tool, rule.pattern)] + [
            rule
        ]
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        text = RuleFile(rules=self.rules).model_dump_json(by_alias=True, indent=1)
        try:
            self.path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            atomic_write_text(self.path, text)
        except OSError as exc:
            raise PersistenceFailed(
                f"could not save permission rules to {self.path}: {exc}"
            ) from exc

"""Remembered answers: an "always" becomes a rule scoped to the tool and what the user saw.

A rule never changes a mode: it allows (or rejects) one tool with one command
or path pattern. Rules made from an answer match the exact command or path the
user was shown (glob characters in it are escaped); rules a caller passes in
(workspace rules) may use ``*`` / ``?`` globs on purpose.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import Field

from ..models import CawModel, utcnow
from .models import OptionKind, PermissionRequest

RuleAction = Literal["allow", "reject"]
RuleScope = Literal["session", "workspace"]


class PermissionRule(CawModel):
    """Allow or reject ``tool`` when its command/path matches ``pattern`` (a glob)."""

    tool: str = Field(description="The CLI's tool name; '*' for any tool.")
    pattern: str = Field(description="Glob over the command (shell tools) or the path; '*' any.")
    action: RuleAction
    scope: RuleScope = "session"
    created_at: datetime = Field(default_factory=utcnow)

    def matches(self, request: PermissionRequest) -> bool:
        if self.tool != "*" and self.tool != request.tool:
            return False
        return fnmatchcase(request.subject, self.pattern)


def rule_for(request: PermissionRequest, option: OptionKind) -> PermissionRule | None:
    """The rule an ``*_always`` answer to ``request`` stands for (None for a one-off answer)."""
    if option not in ("allow_always", "reject_always"):
        return None
    subject = request.subject
    return PermissionRule(
        tool=request.tool,
        pattern=subject if subject == "*" else glob.escape(subject),
        action="allow" if option == "allow_always" else "reject",
    )


def matching_rule(
    rules: Iterable[PermissionRule], request: PermissionRequest
) -> PermissionRule | None:
    """The rule that settles ``request``: a reject beats an allow, so "never" stays never."""
    found = [rule for rule in rules if rule.matches(request)]
    for rule in found:
        if rule.action == "reject":
            return rule
    return found[0] if found else None

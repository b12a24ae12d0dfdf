"""Permission questions: one model for the three CLIs' approval requests, remembered rules,
and the policy (mode, rules, the user's answer) that settles each question.

See docs/permissions.md.
"""

from .broker import PermissionBroker, PermissionCallback
from .models import (
    OPTION_KINDS,
    PERMISSION_MODES,
    FileDiff,
    Location,
    OptionKind,
    PermissionDecision,
    PermissionMode,
    PermissionOption,
    PermissionRequest,
    ToolKind,
)
from .rules import PermissionRule, matching_rule, rule_for
from .store import RuleStore

__all__ = [
    "OPTION_KINDS",
    "PERMISSION_MODES",
    "FileDiff",
    "Location",
    "OptionKind",
    "PermissionBroker",
    "PermissionCallback",
    "PermissionDecision",
    "PermissionMode",
    "PermissionOption",
    "PermissionRequest",
    "PermissionRule",
    "RuleStore",
    "ToolKind",
    "matching_rule",
    "rule_for",
]

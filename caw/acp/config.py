"""The session's ``configOptions``: provider, model and permission mode.

ACP removed ``session/set_model``; the model is a config option of category ``model``
instead. The three options are selects; ``session/set_config_option`` changes one and
answers the full list (:mod:`caw.acp.agent` applies the change to the session).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from acp import RequestError
from acp.schema import (
    SessionConfigOptionBoolean,
    SessionConfigOptionSelect,
    SessionConfigSelectOption,
)

from ..permissions import PERMISSION_MODES, PermissionMode
from ..providers import PROVIDER_NAMES, UnknownProvider, canonical_name

PROVIDER, MODEL, PERMISSION_MODE = "provider", "model", "permission_mode"
DEFAULT_MODEL = "default"

_MODE_NAMES = {
    "ask": "Ask before tools run",
    "bypass": "Run every tool unasked",
    "deny": "Refuse tools that need approval",
}


@dataclass
class SessionConfig:
    provider: str
    model: str | None
    permission_mode: PermissionMode

    def options(self) -> list[SessionConfigOptionSelect | SessionConfigOptionBoolean]:
        models = [DEFAULT_MODEL] + ([self.model] if self.model else [])
        return [
            _select(PROVIDER, "Backend", None, self.provider, [(p, p) for p in PROVIDER_NAMES]),
            _select(
                MODEL,
                "Model",
                "model",
                self.model or DEFAULT_MODEL,
                [(m, "The backend's default" if m == DEFAULT_MODEL else m) for m in models],
            ),
            _select(
                PERMISSION_MODE,
                "Permissions",
                "mode",
                self.permission_mode,
                [(m, _MODE_NAMES[m]) for m in PERMISSION_MODES],
            ),
        ]

    def changed(self, config_id: str, value: str | bool) -> SessionConfig:
        """A copy with one option changed; an unknown option or value is invalid params."""
        if not isinstance(value, str):
            raise RequestError.invalid_params({"details": f"{config_id!r} takes a string value"})
        if config_id == PROVIDER:
            try:
                return SessionConfig(canonical_name(value), None, self.permission_mode)
            except UnknownProvider as exc:
                raise RequestError.invalid_params({"details": str(exc)}) from None
        if config_id == MODEL:
            model = None if value in ("", DEFAULT_MODEL) else value
            return SessionConfig(self.provider, model, self.permission_mode)
        if config_id == PERMISSION_MODE:
            mode = next((m for m in PERMISSION_MODES if m == value), None)
            if mode is None:
                raise RequestError.invalid_params(
                    {"details": f"permission_mode must be one of {', '.join(PERMISSION_MODES)}"}
                )
            return SessionConfig(self.provider, self.model, mode)
        raise RequestError.invalid_params(
            {
                "details": f"unknown config option {config_id!r}: use {PROVIDER}, {MODEL} or {PERMISSION_MODE}"
            }
        )


def _select(
    option_id: str,
    name: str,
    category: Literal["mode", "model"] | None,
    current: str,
    values: list[tuple[str, str]],
) -> SessionConfigOptionSelect:
    return SessionConfigOptionSelect(
        id=option_id,
        name=name,
        category=category,
        type="select",
        current_value=current,
        options=[SessionConfigSelectOption(value=v, name=n) for v, n in values],
    )

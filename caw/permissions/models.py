"""What a permission question and its answer are, on the wire and on disk.

A CLI asks before a tool runs; its adapter turns the ask into one
:class:`PermissionRequest` (the names follow the Agent Client Protocol's
``session/request_permission``), and the answer, one of the four
:data:`OptionKind` values, goes back to the CLI in its own terms.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field, PrivateAttr

from ..models import CawModel
from ..models import FileDiff as FileDiff  # defined with the turn record; questions carry them too
from ..models import Location as Location

PermissionMode = Literal["ask", "bypass", "deny"]
"""ask: every approval a CLI requests is put to the user; bypass: tools run unasked;
deny: tools that need approval are refused."""

PERMISSION_MODES: tuple[PermissionMode, ...] = ("ask", "bypass", "deny")

ToolKind = Literal["read", "edit", "delete", "move", "search", "execute", "fetch", "other"]
"""The kind of tool, as ACP's ``ToolKind`` names it."""

OptionKind = Literal["allow_once", "allow_always", "reject_once", "reject_always"]
OPTION_KINDS: tuple[OptionKind, ...] = (
    "allow_once",
    "allow_always",
    "reject_once",
    "reject_always",
)

_BY_NAME: dict[str, OptionKind] = {kind: kind for kind in OPTION_KINDS}

OPTION_NAMES: dict[OptionKind, str] = {
    "allow_once": "Allow once",
    "allow_always": "Always allow",
    "reject_once": "Reject",
    "reject_always": "Always reject",
}


class PermissionOption(CawModel):
    """One choice offered to the user (ACP ``PermissionOption``)."""

    option_id: str
    name: str
    kind: OptionKind


def default_options() -> list[PermissionOption]:
    return [PermissionOption(option_id=k, name=OPTION_NAMES[k], kind=k) for k in OPTION_KINDS]


class PermissionRequest(CawModel):
    """A CLI asks whether a tool may run. Also a turn event: ``stream()`` / ``on_event`` code
    may answer it with :meth:`respond`."""

    kind: Literal["permissionRequest"] = "permissionRequest"
    session_id: str | None = Field(None, description="The caw session that asks.")
    id: str = Field(description="The tool call's id (the CLI's own, when it gives one).")
    tool: str = Field(description="The CLI's name for the tool (Bash, commandExecution, bash...).")
    tool_kind: ToolKind = "other"
    title: str = Field(description="What a person reads: the command, or the edited file.")
    command: str | None = Field(None, description="For a shell command: the command as run.")
    raw_input: dict[str, Any] = Field(default_factory=dict)
    locations: list[Location] = Field(default_factory=list)
    diff: list[FileDiff] = Field(default_factory=list)
    options: list[PermissionOption] = Field(default_factory=default_options)

    _answer: asyncio.Future[OptionKind] | None = PrivateAttr(default=None)

    @property
    def subject(self) -> str:
        """What a remembered rule is scoped to: the command, else the first path, else ``*``."""
        if self.command is not None:
            return self.command
        if self.locations:
            return self.locations[0].path
        return "*"

    def attach_answer(self) -> asyncio.Future[OptionKind]:
        """The future :meth:`respond` resolves (made on the running loop)."""
        if self._answer is None:
            self._answer = asyncio.get_running_loop().create_future()
        return self._answer

    def respond(self, option: OptionKind | str) -> None:
        """Answer the question (an option kind or one of this request's option ids)."""
        kind = option_kind(option, self.options)
        future = self._answer
        if future is None:
            raise RuntimeError("this permission request is not waiting for an answer")
        if future.done():
            return
        loop = future.get_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            future.set_result(kind)
        else:  # answered from another thread (the sync API's on_event runs on caw's loop; stream()'s does not)
            loop.call_soon_threadsafe(_settle, future, kind)

    @property
    def answered(self) -> bool:
        return self._answer is not None and self._answer.done()


def _settle(future: asyncio.Future[OptionKind], kind: OptionKind) -> None:
    if not future.done():
        future.set_result(kind)


def option_kind(option: str, options: list[PermissionOption] | None = None) -> OptionKind:
    """``option`` as an option kind; a bad answer is a clear ValueError."""
    for candidate in options or []:
        if option == candidate.option_id:
            return candidate.kind
    kind = _BY_NAME.get(option)
    if kind is not None:
        return kind
    raise ValueError(f"{option!r} is not a permission answer: use one of {', '.join(OPTION_KINDS)}")


DecisionSource = Literal["mode", "rule", "user", "timeout", "cancelled", "no_client"]


class PermissionDecision(CawModel):
    """How a question was settled, and what the model is told when it was rejected."""

    option: OptionKind
    source: DecisionSource = "user"
    message: str | None = None

    @property
    def allowed(self) -> bool:
        return self.option.startswith("allow")

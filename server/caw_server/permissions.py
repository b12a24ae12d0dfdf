"""Permission questions, daemon side: ``session/requestPermission`` to the client.

In ``ask`` mode every question a backend CLI asks (and no remembered rule settles)
becomes one request to the client, in the Agent Client Protocol's shape, so a
client that speaks ACP answers with the same code: ``{sessionId, toolCall,
options}`` -> ``{outcome: {outcome: "selected", optionId}}`` or
``{outcome: {outcome: "cancelled"}}``. Nothing waits for ever: a client that did
not say at ``initialize`` that it can answer is never asked (the tool call is
rejected), and one that does not answer within ``permissionTimeout`` seconds, or
goes away, rejects too. The model is told each time why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Annotated, Any, Literal, Protocol

from lsprotocol import types
from pydantic import ConfigDict, Field, ValidationError

from caw.models import CawModel
from caw.permissions import (
    Location,
    PermissionCallback,
    PermissionDecision,
    PermissionMode,
    PermissionOption,
    PermissionRequest,
    PermissionRule,
    ToolKind,
    rule_for,
)

log = logging.getLogger("caw_server.permissions")

METHOD = "session/requestPermission"
DEFAULT_TIMEOUT = 300.0


# --- wire ----------------------------------------------------------------------------


class RuleSpec(CawModel):
    """A remembered answer: ``tool`` ('*': any) with its command or path matching the glob
    ``pattern``. Clients send the workspace's rules with session/start and session/resume."""

    model_config = ConfigDict(strict=True)
    tool: str
    pattern: str
    action: Literal["allow", "reject"]

    def rule(self) -> PermissionRule:
        return PermissionRule(
            tool=self.tool, pattern=self.pattern, action=self.action, scope="workspace"
        )


class ToolCallDiff(CawModel):
    """ACP ``diff`` tool-call content: ``oldText`` null for a new file."""

    type: Literal["diff"] = "diff"
    path: str
    old_text: str | None = None
    new_text: str


class PermissionToolCall(CawModel):
    """ACP ``ToolCallUpdate``: the tool call the question is about."""

    tool_call_id: str
    title: str
    kind: ToolKind
    status: Literal["pending"] = "pending"
    raw_input: dict[str, Any] = Field(default_factory=dict)
    locations: list[Location] = Field(default_factory=list)
    content: list[ToolCallDiff] = Field(default_factory=list)


class RequestPermissionParams(CawModel):
    """``session/requestPermission`` (daemon -> client), ACP's ``session/request_permission``."""

    session_id: str
    tool_call: PermissionToolCall
    options: list[PermissionOption]
    always_rule: RuleSpec = Field(
        description="The rule an allow_always / reject_always answer is remembered as (with "
        "action allow); a client that keeps workspace-wide rules stores this one."
    )
    tool: str = Field(
        description="The backend CLI's name for the tool (Bash, commandExecution, bash...)."
    )


class SelectedOutcome(CawModel):
    outcome: Literal["selected"]
    option_id: str


class CancelledOutcome(CawModel):
    outcome: Literal["cancelled"]


class RequestPermissionResult(CawModel):
    """The client's answer."""

    outcome: Annotated[SelectedOutcome | CancelledOutcome, Field(discriminator="outcome")]


class ClientCapabilities(CawModel):
    """``initializationOptions.clientCapabilities``: what the client can do for the daemon."""

    model_config = ConfigDict(strict=True)
    permissions: bool = Field(
        False,
        description="The client answers session/requestPermission (needed for 'ask' to ask anyone).",
    )


def request_params(request: PermissionRequest) -> RequestPermissionParams:
    always = rule_for(request, "allow_always")
    assert always is not None
    return RequestPermissionParams(
        session_id=request.session_id or "",
        tool_call=PermissionToolCall(
            tool_call_id=request.id,
            title=request.title,
            kind=request.tool_kind,
            raw_input=request.raw_input,
            locations=request.locations,
            content=[
                ToolCallDiff(path=d.path, old_text=d.old_text, new_text=d.new_text)
                for d in request.diff
            ],
        ),
        options=request.options,
        always_rule=RuleSpec(tool=always.tool, pattern=always.pattern, action="allow"),
        tool=request.tool,
    )


# --- asking ----------------------------------------------------------------------------


class Requester(Protocol):
    """What the daemon's JSON-RPC protocol offers: a request to the client, and a notification."""

    def send_request(
        self,
        method: str,
        params: Any | None = None,
        callback: Callable[[Any], None] | None = None,
        msg_id: str | int | None = None,
    ) -> Future[Any]: ...

    def forget_request(self, msg_id: Any) -> None: ...

    def notify(self, method: str, params: Any | None = None) -> None: ...


class ClientPermissions:
    """The daemon's answerer: asks the connected client, if it can answer."""

    def __init__(self, protocol: Requester):
        self.protocol = protocol
        self.can_answer = False
        self.mode: PermissionMode = "ask"
        self.timeout: float = DEFAULT_TIMEOUT
        self._sent = 0

    def callback(self) -> PermissionCallback:
        return self.ask

    async def ask(self, request: PermissionRequest) -> PermissionDecision | str:
        if not self.can_answer:
            return PermissionDecision(
                option="reject_once",
                source="no_client",
                message="Rejected: the editor connected to caw-server cannot answer permission "
                "questions, and this session runs with permissionMode 'ask'.",
            )
        params = request_params(request).to_wire()
        self._sent += 1
        msg_id = f"caw-permission-{self._sent}"
        try:
            future = self.protocol.send_request(METHOD, params, msg_id=msg_id)
        except Exception as exc:  # the client is gone
            log.info("could not ask the client: %s", exc)
            return _no_answer("the client could not be asked")
        try:
            raw = await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except asyncio.TimeoutError:
            self._withdraw(msg_id, future)
            return PermissionDecision(
                option="reject_once",
                source="timeout",
                message=f"Rejected: nobody answered the permission question within {self.timeout:g} s.",
            )
        except asyncio.CancelledError:
            self._withdraw(msg_id, future)
            raise
        except Exception as exc:  # the client answered with an error
            log.info("the client answered %s with an error: %s", METHOD, exc)
            return _no_answer("the client answered the question with an error")
        try:
            outcome = RequestPermissionResult.model_validate(raw).outcome
        except ValidationError as exc:
            log.warning("the client's answer to %s is malformed: %s", METHOD, exc)
            return _no_answer("the client's answer was malformed")
        if isinstance(outcome, CancelledOutcome):
            return PermissionDecision(
                option="reject_once",
                source="cancelled",
                message="Rejected: the question was cancelled.",
            )
        return outcome.option_id  # an option id; the broker reads it (and rejects an unknown one)

    def _withdraw(self, msg_id: str, future: Future[Any]) -> None:
        """The daemon stopped waiting: a late answer is dropped, and the client is told it may
        close its question (``$/cancelRequest``, as LSP lets either side cancel)."""
        self.protocol.forget_request(msg_id)
        future.cancel()
        with contextlib.suppress(Exception):
            self.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))


def _no_answer(why: str) -> PermissionDecision:
    return PermissionDecision(option="reject_once", source="no_client", message=f"Rejected: {why}.")

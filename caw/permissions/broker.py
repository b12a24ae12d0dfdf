"""Deciding one permission question: mode, then remembered rules, then the user.

Every provider adapter hands each approval its CLI requests to
:meth:`PermissionBroker.decide` and sends the decision back in the CLI's own
terms. The broker never lets a question outlive its turn: a cancelled turn,
a missing answerer or a timeout all reject, and the model is told why.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable

from .models import (
    DecisionSource,
    OptionKind,
    PermissionDecision,
    PermissionMode,
    PermissionRequest,
    option_kind,
)
from .rules import PermissionRule, matching_rule, rule_for
from .store import RuleStore

log = logging.getLogger("caw.permissions")

PermissionCallback = Callable[
    [PermissionRequest],
    "OptionKind | str | PermissionDecision | Awaitable[OptionKind | str | PermissionDecision]",
]
"""``on_permission``: sync or async, returns an option kind (``"allow_once"``...) or option id
(or a whole :class:`PermissionDecision`, to reject with its own message)."""

REJECTED_BY_USER = "The user rejected this tool call."
DENY_MODE = "Denied: this caw session runs with permission_mode='deny', so tools that need approval are refused."


class PermissionBroker:
    """One session's permission policy: its mode, its rules and who answers."""

    def __init__(
        self,
        mode: PermissionMode = "bypass",
        on_permission: PermissionCallback | None = None,
        store: RuleStore | None = None,
        workspace_rules: Iterable[PermissionRule] = (),
        timeout: float | None = None,
        session_id: str | None = None,
    ):
        self.session_id = session_id
        self.mode: PermissionMode = mode
        self.on_permission = on_permission
        self.store = store if store is not None else RuleStore()
        self.workspace_rules = [
            r.model_copy(update={"scope": "workspace"}) for r in workspace_rules
        ]
        self.timeout = timeout
        #: Set by the session while a turn runs: puts a request into the turn's event stream.
        self.emit: Callable[[PermissionRequest], None] | None = None
        self._pending: dict[asyncio.Future[OptionKind], str] = {}  # open question -> request id
        self._cut: dict[asyncio.Future[OptionKind], tuple[DecisionSource, str]] = {}

    @property
    def rules(self) -> list[PermissionRule]:
        """Session rules first, then the caller's workspace rules."""
        return [*self.store.rules, *self.workspace_rules]

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        """Settle ``request``; never raises, never waits past the timeout or the turn."""
        if self.mode == "bypass":
            return PermissionDecision(option="allow_once", source="mode")
        if self.mode == "deny":
            return PermissionDecision(option="reject_once", source="mode", message=DENY_MODE)
        rule = matching_rule(self.rules, request)
        if rule is not None:
            log.info(
                "permission for %s settled by a %s rule (%s)", request.tool, rule.scope, rule.action
            )
            if rule.action == "allow":
                return PermissionDecision(option="allow_once", source="rule")
            return PermissionDecision(
                option="reject_once",
                source="rule",
                message=f"Rejected: the user chose never to allow this ({request.tool}: {request.subject}).",
            )
        decision = await self._ask(request)
        if decision.source != "user":
            log.info(
                "session %s: permission for %s rejected (%s): %s",
                self.session_id, request.tool, decision.source, decision.message,
            )  # fmt: skip
        remembered = rule_for(request, decision.option) if decision.source == "user" else None
        if remembered is not None:
            try:
                self.store.add(remembered)
            except OSError as exc:  # the answer still holds for this question
                log.warning("%s", exc)
        return decision

    async def _ask(self, request: PermissionRequest) -> PermissionDecision:
        if self.emit is None and self.on_permission is None:
            return _rejected(
                "no_client",
                "Nobody can answer permission requests here; the tool call was rejected.",
            )
        request.session_id = request.session_id or self.session_id
        future = request.attach_answer()
        self._pending[future] = request.id
        asker: asyncio.Task[None] | None = None
        try:
            if self.emit is not None:
                self.emit(request)
            if self.on_permission is not None:
                asker = asyncio.ensure_future(self._call_back(request))
            try:
                option = await asyncio.wait_for(asyncio.shield(future), self.timeout)
            except asyncio.TimeoutError:
                return _rejected(
                    "timeout",
                    f"No answer to the permission request within {self.timeout:g} s; the tool call was rejected.",
                )
            cut = self._cut.pop(future, None)
            if cut is not None:
                return _rejected(*cut)
            if option.startswith("reject"):
                return PermissionDecision(option=option, source="user", message=REJECTED_BY_USER)
            return PermissionDecision(option=option, source="user")
        finally:
            self._pending.pop(future, None)
            self._cut.pop(future, None)
            if asker is not None and not asker.done():
                asker.cancel()
                with contextlib.suppress(BaseException):
                    await asker

    async def _call_back(self, request: PermissionRequest) -> None:
        assert self.on_permission is not None
        try:
            answer = self.on_permission(request)
            if inspect.isawaitable(answer):
                answer = await answer
            if isinstance(answer, PermissionDecision) and answer.source != "user":
                self._cut_short(request, answer.source, answer.message or REJECTED_BY_USER)
            elif isinstance(answer, PermissionDecision):
                request.respond(answer.option)
            else:
                request.respond(option_kind(str(answer), request.options))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken callback rejects; it must not allow
            log.warning("the on_permission callback failed (%s); rejecting the tool call", exc)
            self._cut_short(
                request,
                "cancelled",
                f"The permission callback failed ({exc}); the tool call was rejected.",
            )

    def _cut_short(self, request: PermissionRequest, source: DecisionSource, message: str) -> None:
        """Settle ``request`` as rejected for a reason other than the user's answer."""
        future = request.attach_answer()
        if not future.done():
            self._cut[future] = (source, message)
            future.set_result("reject_once")

    def cancel_pending(
        self, message: str = "The turn was cancelled; the tool call was rejected."
    ) -> int:
        """Reject every open question (the turn was cancelled or ended). Returns how many."""
        count = 0
        for future in list(self._pending):
            if not future.done():
                self._cut[future] = ("cancelled", message)
                future.set_result("reject_once")
                count += 1
        return count


def _rejected(source: DecisionSource, message: str) -> PermissionDecision:
    return PermissionDecision(option="reject_once", source=source, message=message)

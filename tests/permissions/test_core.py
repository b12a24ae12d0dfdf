"""The permission core without a CLI: rules, their file, and how the broker settles a question."""

from __future__ import annotations

import asyncio
import os
import stat

import pytest

from caw.permissions import (
    PermissionBroker,
    PermissionRequest,
    PermissionRule,
    RuleStore,
    matching_rule,
    rule_for,
)


def bash(command: str, call: str = "c1") -> PermissionRequest:
    return PermissionRequest(
        id=call, tool="Bash", tool_kind="execute", title=command, command=command,
        raw_input={"command": command},
    )  # fmt: skip


def test_an_always_rule_is_the_exact_command_the_user_saw() -> None:
    rule = rule_for(bash("rm -rf build/*"), "allow_always")
    assert rule is not None and rule.action == "allow"
    assert rule.matches(bash("rm -rf build/*"))
    assert not rule.matches(bash("rm -rf build/x"))  # the * the user saw is literal
    assert not rule.matches(bash("rm -rf build/* && rm -rf ~"))
    other_tool = bash("rm -rf build/*").model_copy(update={"tool": "Write"})
    assert not rule.matches(other_tool)
    assert rule_for(bash("ls"), "allow_once") is None


def test_a_reject_rule_beats_an_allow_rule() -> None:
    allow = PermissionRule(tool="*", pattern="git *", action="allow", scope="workspace")
    reject = PermissionRule(tool="Bash", pattern="git push*", action="reject")
    assert matching_rule([allow, reject], bash("git push origin")) is reject
    assert matching_rule([allow, reject], bash("git status")) is allow
    assert matching_rule([allow, reject], bash("make")) is None


def test_rules_are_saved_owner_only_and_reloaded(tmp_path: os.PathLike[str]) -> None:
    store = RuleStore(tmp_path)
    rule = rule_for(bash("touch a"), "allow_always")
    assert rule is not None
    store.add(rule)
    store.add(rule)  # the same rule again replaces, not duplicates
    path = store.path
    assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    again = RuleStore(tmp_path)
    assert [(r.tool, r.pattern, r.action) for r in again.rules] == [("Bash", "touch a", "allow")]
    path.write_text("{not json")
    assert RuleStore(tmp_path).rules == []  # unreadable: nothing is allowed by it


async def test_modes_settle_without_asking() -> None:
    asked: list[PermissionRequest] = []

    def answer(request: PermissionRequest) -> str:
        asked.append(request)
        return "allow_once"

    bypass = await PermissionBroker("bypass", on_permission=answer).decide(bash("touch a"))
    deny = await PermissionBroker("deny", on_permission=answer).decide(bash("touch a"))
    assert (bypass.option, bypass.source) == ("allow_once", "mode")
    assert (deny.option, deny.source) == ("reject_once", "mode")
    assert asked == []


@pytest.mark.parametrize("is_async", [False, True])
async def test_ask_calls_back_and_always_is_remembered(
    tmp_path: os.PathLike[str], is_async: bool
) -> None:
    answers = iter(["allow_always", "reject_always"])
    asked: list[str] = []

    def sync_answer(request: PermissionRequest) -> str:
        asked.append(request.subject)
        return next(answers)

    async def async_answer(request: PermissionRequest) -> str:
        await asyncio.sleep(0)
        return sync_answer(request)

    broker = PermissionBroker(
        "ask", on_permission=async_answer if is_async else sync_answer, store=RuleStore(tmp_path)
    )
    first = await broker.decide(bash("touch a"))
    assert first.option == "allow_always" and first.allowed
    again = await broker.decide(bash("touch a", call="c2"))
    assert (again.option, again.source) == ("allow_once", "rule")
    rejected = await broker.decide(bash("rm x"))
    assert rejected.option == "reject_always" and rejected.message
    after = await PermissionBroker("ask", store=RuleStore(tmp_path)).decide(bash("rm x"))
    assert (after.option, after.source) == ("reject_once", "rule")  # remembered on disk
    assert asked == ["touch a", "rm x"]


async def test_stream_code_answers_the_event() -> None:
    broker = PermissionBroker("ask")
    seen: list[PermissionRequest] = []

    def emit(request: PermissionRequest) -> None:
        seen.append(request)
        with pytest.raises(ValueError, match="not a permission answer"):
            request.respond("yes please")
        request.respond("allow_once")

    broker.emit = emit
    decision = await broker.decide(bash("touch a"))
    assert decision.option == "allow_once" and len(seen) == 1 and seen[0].answered


async def test_nobody_answering_rejects_within_the_timeout() -> None:
    broker = PermissionBroker("ask", timeout=0.2)
    assert (await broker.decide(bash("touch a"))).source == "no_client"
    broker.emit = lambda request: None
    decision = await broker.decide(bash("touch a"))
    assert (decision.option, decision.source) == ("reject_once", "timeout")
    assert "0.2 s" in (decision.message or "")


async def test_cancel_rejects_the_pending_question_and_a_failing_callback_rejects() -> None:
    broker = PermissionBroker("ask")
    asked = asyncio.Event()
    broker.emit = lambda request: asked.set()
    pending = asyncio.ensure_future(broker.decide(bash("touch a")))
    await asyncio.wait_for(asked.wait(), 5)
    assert broker.cancel_pending() == 1
    decision = await pending
    assert (decision.option, decision.source) == ("reject_once", "cancelled")

    def broken(request: PermissionRequest) -> str:
        raise RuntimeError("boom")

    failing = PermissionBroker("ask", on_permission=broken)
    decision = await failing.decide(bash("touch a"))
    assert decision.option == "reject_once" and "boom" in (decision.message or "")


def test_a_rule_file_that_is_a_link_is_not_followed(tmp_path: os.PathLike[str]) -> None:
    planted = os.path.join(tmp_path, "elsewhere.json")
    with open(planted, "w") as f:
        f.write('{"rules": [{"tool": "*", "pattern": "*", "action": "allow"}]}')
    os.symlink(planted, os.path.join(tmp_path, "permissions.json"))
    assert RuleStore(tmp_path).rules == []  # an allow-everything rule planted by a link is ignored

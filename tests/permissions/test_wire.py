"""Each CLI's permission question, as captured from the pinned CLIs, read into one model.

The samples are the real messages (claude 2.1.332, codex-cli 0.169.0, opencode 1.18.33,
scripted model), trimmed; the features are proven end to end in test_library_e2e.py.
"""

from __future__ import annotations

from pathlib import Path

from caw.permissions import PermissionDecision, claude, codex, opencode
from caw.permissions.diffs import apply_unified

ALLOW = PermissionDecision(option="allow_once")
REJECT = PermissionDecision(option="reject_once", message="The user rejected this tool call.")


def test_claude_can_use_tool_and_the_answer_never_carries_its_suggestions() -> None:
    line = {
        "type": "control_request",
        "request_id": "r1",
        "request": {
            "subtype": "can_use_tool", "tool_name": "Bash", "display_name": "Bash",
            "input": {"command": "touch a.txt"}, "description": "touch a.txt",
            "permission_suggestions": [{"type": "setMode", "mode": "acceptEdits", "destination": "session"}],
            "tool_use_id": "toolu_1",
        },
    }  # fmt: skip
    assert claude.is_permission_request(line)
    request = claude.permission_request(line)
    assert (request.id, request.tool, request.tool_kind, request.command, request.title) == (
        "toolu_1", "Bash", "execute", "touch a.txt", "touch a.txt",
    )  # fmt: skip
    allow = claude.permission_response(line, ALLOW)["response"]
    assert allow == {
        "subtype": "success",
        "request_id": "r1",
        "response": {"behavior": "allow", "updatedInput": {"command": "touch a.txt"}},
    }
    deny = claude.permission_response(line, REJECT)["response"]["response"]
    assert deny == {"behavior": "deny", "message": "The user rejected this tool call."}


def test_claude_write_carries_old_and_new_text(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old\n")
    line = {
        "type": "control_request",
        "request_id": "r2",
        "request": {
            "subtype": "can_use_tool", "tool_name": "Edit", "tool_use_id": "toolu_2",
            "input": {"file_path": str(target), "old_string": "old", "new_string": "new"},
        },
    }  # fmt: skip
    request = claude.permission_request(line)
    assert request.tool_kind == "edit" and request.locations[0].path == str(target)
    assert [(d.old_text, d.new_text) for d in request.diff] == [("old\n", "new\n")]


def test_codex_command_is_unwrapped_and_a_file_change_reads_its_item(tmp_path: Path) -> None:
    params = {
        "kind": "command", "threadId": "t", "turnId": "u", "itemId": "call_1",
        "command": "/bin/bash -lc 'touch a.txt'", "cwd": str(tmp_path),
        "availableDecisions": ["accept", "cancel"],
    }  # fmt: skip
    assert codex.is_permission_request(codex.COMMAND, params)
    request = codex.permission_request(codex.COMMAND, params)
    assert (request.id, request.command, request.tool_kind) == ("call_1", "touch a.txt", "execute")
    assert codex.permission_response(codex.COMMAND, REJECT) == {"decision": "decline"}
    assert codex.permission_response(codex.COMMAND, ALLOW) == {"decision": "accept"}

    path = str(tmp_path / "new.txt")
    item = {
        "type": "fileChange",
        "id": "call_2",
        "changes": [{"path": path, "kind": {"type": "add"}, "diff": "hello\n"}],
    }
    ask = {"threadId": "t", "turnId": "u", "itemId": "call_2", "reason": None, "grantRoot": None}
    edit = codex.permission_request(codex.FILE_CHANGE, ask, item)
    assert edit.tool_kind == "edit" and [(d.path, d.old_text, d.new_text) for d in edit.diff] == [
        (path, None, "hello\n")
    ]
    elicitation = {
        "serverName": "s",
        "_meta": {"codex_approval_kind": "mcp_tool_call", "tool_name": "lookup"},
    }
    assert codex.is_permission_request(codex.ELICITATION, elicitation)
    assert not codex.is_permission_request(codex.ELICITATION, {"serverName": "s"})
    assert codex.permission_request(codex.ELICITATION, elicitation).tool == "mcp__s__lookup"
    assert codex.permission_response(codex.ELICITATION, REJECT) == {"action": "decline"}


def test_opencode_bash_and_edit(tmp_path: Path) -> None:
    bash = {
        "id": "per_1", "sessionID": "ses_1", "permission": "bash", "patterns": ["touch oc-a.txt"],
        "metadata": {"command": "touch oc-a.txt"}, "always": ["touch *"],
        "tool": {"messageID": "msg_1", "callID": "toolu_1"},
    }  # fmt: skip
    request = opencode.permission_request(bash)
    assert (request.id, request.tool, request.command) == ("toolu_1", "bash", "touch oc-a.txt")
    assert opencode.permission_reply(ALLOW) == {
        "reply": "once"
    }  # never "always": that is opencode-wide
    assert opencode.permission_reply(REJECT)["reply"] == "reject"

    path = str(tmp_path / "new.txt")
    diff = f"Index: {path}\n===\n--- {path}\n+++ {path}\n@@ -0,0 +1,1 @@\n+hello world\n"
    edit = opencode.permission_request(
        {
            "id": "per_2",
            "permission": "edit",
            "patterns": [path],
            "metadata": {"filepath": path, "diff": diff},
        }
    )
    assert edit.tool_kind == "edit" and [(d.old_text, d.new_text) for d in edit.diff] == [
        (None, "hello world\n")
    ]


def test_unified_diffs_apply_or_say_they_do_not() -> None:
    diff = "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
    assert apply_unified("a\nb\nc\nd\n", diff) == "a\nB\nc\nd\n"
    assert apply_unified("x\n", diff) is None
    assert apply_unified("a\n", "no hunk here") is None


def test_the_scripted_model_writes_files_with_each_clis_tool() -> None:
    """[[tool:write:PATH:CONTENT]] (caw.testing): the write tool where there is one, else apply_patch."""
    from caw.testing.script import Message, plan_reply

    def reply_to(tools: list[dict]) -> tuple[str, dict]:
        body = {"tools": tools}
        messages = [Message(role="user", texts=["[[tool:write:new.txt:hello]] go"])]
        call = plan_reply("anthropic", body, messages).tool_call
        assert call is not None
        return call.name, call.arguments

    claude = {"name": "Write", "input_schema": {"properties": {"file_path": {}, "content": {}}}}
    opencode = {"name": "write", "input_schema": {"properties": {"filePath": {}, "content": {}}}}
    codex = {
        "type": "function",
        "name": "exec_command",
        "parameters": {"properties": {"cmd": {"type": "string"}}},
    }
    assert reply_to([claude]) == ("Write", {"file_path": "new.txt", "content": "hello\n"})
    assert reply_to([opencode]) == ("write", {"filePath": "new.txt", "content": "hello\n"})
    name, args = reply_to([codex])
    assert name == "exec_command" and args["cmd"].startswith(
        "apply_patch <<'EOF'\n*** Begin Patch\n"
    )
    assert "*** Add File: new.txt\n+hello\n*** End Patch" in args["cmd"]

"""An edit's tool call carries its locations and exact diff: each translator, on trimmed real lines
(claude 2.1.332, codex-cli 0.169.0, opencode 1.18.33); the CLIs themselves in
tests/server/test_edits_review.py."""

from __future__ import annotations

from pathlib import Path

from acp import schema

from caw.acp.updates import to_update
from caw.events import ToolCall, ToolResult
from caw.models import FileDiff
from caw.permissions.diffs import apply_unified, reverse_unified
from caw.providers.claude_code.translate import TurnTranslator as ClaudeTranslator
from caw.providers.codex.translate import TurnTranslator as CodexTranslator
from caw.providers.opencode.translate import TurnState

BEFORE = "x = 1\ny = 2\n"
AFTER = "x = 1\ny = 3\n"
PATCH = "@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n"


def test_reverse_unified_undoes_a_diff():
    assert apply_unified(BEFORE, PATCH) == AFTER
    assert apply_unified(AFTER, reverse_unified(PATCH)) == BEFORE
    assert apply_unified("x = 1\ny = 9\n", reverse_unified(PATCH)) is None


def test_claude_holds_an_edit_call_until_its_result_then_gives_the_exact_diff(tmp_path: Path):
    path = str(tmp_path / "a.py")
    translator = ClaudeTranslator()
    edit = {"file_path": path, "old_string": "y = 2", "new_string": "y = 3"}
    assistant = {
        "type": "assistant",
        "message": {"id": "m1", "content": [
            {"type": "tool_use", "id": "t1", "name": "Edit", "input": edit},
            {"type": "tool_use", "id": "t2", "name": "Read", "input": {"file_path": path, "offset": 5}},
        ]},
    }  # fmt: skip
    first = list(translator.events(assistant))
    assert [(e.id, e.locations[0].line) for e in first if isinstance(e, ToolCall)] == [("t2", 5)]
    result = {
        "type": "user",
        "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
        "tool_use_result": {"filePath": path, "originalFile": BEFORE, **edit},
    }
    call, done = list(translator.events(result))
    assert isinstance(call, ToolCall) and isinstance(done, ToolResult)
    assert call.diff == FileDiff(path=path, old_text=BEFORE, new_text=AFTER)
    assert [(loc.path, loc.line) for loc in call.locations] == [(path, 2)]


def test_claude_a_refused_edit_keeps_its_location_without_a_diff(tmp_path: Path):
    path = str(tmp_path / "a.py")
    translator = ClaudeTranslator()
    line = {
        "type": "tool_use",
        "id": "t1",
        "name": "Write",
        "input": {"file_path": path, "content": "x"},
    }
    list(translator.events({"type": "assistant", "message": {"id": "m", "content": [line]}}))
    refused = {
        "type": "user",
        "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "is_error": True, "content": "no"}]},
        "tool_use_result": "Error: the user rejected it",
    }  # fmt: skip
    call, _ = list(translator.events(refused))
    assert isinstance(call, ToolCall)
    assert call.diff is None and call.locations[0].path == path
    assert translator.flush() == []


def test_codex_file_change_call_comes_at_completion_with_the_diff_read_back(tmp_path: Path):
    path = tmp_path / "a.py"
    path.write_text(AFTER)  # codex has applied the change when it reports it completed
    change = {"path": str(path), "kind": {"type": "update", "move_path": None}, "diff": PATCH}
    item = {"type": "fileChange", "id": "c1", "changes": [change], "status": "inProgress"}
    translator = CodexTranslator()
    assert list(translator.events("item/started", {"item": item})) == []
    done = list(translator.events("item/completed", {"item": {**item, "status": "completed"}}))
    call = done[0]
    assert isinstance(call, ToolCall)
    assert call.diff == FileDiff(path=str(path), old_text=BEFORE, new_text=AFTER)
    assert call.locations[0].line == 2 and isinstance(done[1], ToolResult)


def test_opencode_edit_call_comes_at_completion_with_the_metadata_diff(tmp_path: Path):
    path = tmp_path / "a.py"
    path.write_text(AFTER)
    turn = TurnState(user_message="u1", assistant={"m1"})
    tool_input = {"filePath": str(path), "oldString": "y = 2", "newString": "y = 3"}
    part = {"type": "tool", "tool": "edit", "callID": "c1", "id": "p1", "messageID": "m1"}
    running = {**part, "state": {"status": "running", "input": tool_input}}
    assert turn.part_events(running) == []
    meta = {"filediff": {"file": str(path), "patch": f"Index: {path}\n===\n--- a\n+++ b\n{PATCH}"}}
    completed = {**part, "state": {"status": "completed", "input": tool_input, "output": "ok", "metadata": meta}}  # fmt: skip
    call, result = turn.part_events(completed)
    assert isinstance(call, ToolCall) and isinstance(result, ToolResult)
    assert call.diff == FileDiff(path=str(path), old_text=BEFORE, new_text=AFTER)


def test_opencode_write_of_a_new_file(tmp_path: Path):
    path = str(tmp_path / "n.txt")
    turn = TurnState(user_message="u1", assistant={"m1"})
    state = {"status": "completed", "input": {"filePath": path, "content": "hi\n"}, "output": "ok",
             "metadata": {"filepath": path, "exists": False}}  # fmt: skip
    part = {"type": "tool", "tool": "write", "callID": "c1", "id": "p1", "messageID": "m1"}
    call, _ = turn.part_events({**part, "state": state})
    assert isinstance(call, ToolCall)
    assert call.diff == FileDiff(path=path, old_text=None, new_text="hi\n")


def test_acp_keeps_an_edits_diff_in_the_calls_content_after_its_result():
    diff = FileDiff(path="/w/a.py", old_text=BEFORE, new_text=AFTER)
    diffs: dict[str, FileDiff] = {}
    start = to_update(ToolCall(id="c1", name="Edit", diff=diff), diffs)
    done = to_update(ToolResult(id="c1", output="ok"), diffs)
    assert isinstance(start, schema.ToolCallStart) and isinstance(done, schema.ToolCallProgress)
    assert start.content is not None and done.content is not None
    first = start.content[0]
    assert isinstance(first, schema.FileEditToolCallContent) and first.old_text == BEFORE
    assert [c.type for c in done.content] == ["diff", "content"] and not diffs

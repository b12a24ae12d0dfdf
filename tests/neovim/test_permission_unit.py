"""The permission pieces of the plugin in a real headless Neovim, without a daemon: how a
choice becomes an answer, the workspace rules in the state file, the diff shown for an
edit, and what initialize and session/start carry."""

from __future__ import annotations

import json
import stat
from typing import Any

from .conftest import make_workspace

OPTIONS = [
    {"optionId": "allow_once", "name": "Allow once", "kind": "allow_once"},
    {"optionId": "allow_always", "name": "Always allow", "kind": "allow_always"},
    {"optionId": "reject_once", "name": "Reject", "kind": "reject_once"},
    {"optionId": "reject_always", "name": "Always reject", "kind": "reject_always"},
]
CALL: dict[str, Any] = {
    "toolCallId": "t1",
    "title": "touch a.txt",
    "kind": "execute",
    "rawInput": {"command": "touch a.txt"},
}
PARAMS: dict[str, Any] = {
    "sessionId": "s1",
    "toolCall": CALL,
    "options": OPTIONS,
    "alwaysRule": {"tool": "Bash", "pattern": "touch a.txt", "action": "allow"},
    "tool": "Bash",
}


def test_each_choice_answers_the_offered_option(editors, nvim_env, tmp_path):
    ed = editors(make_workspace(tmp_path / "ws"), nvim_env)
    outcome = "return require('caw.permission').outcome(...)"
    assert ed.lua(outcome, PARAMS, "once") == {"outcome": "selected", "optionId": "allow_once"}
    assert ed.lua(outcome, PARAMS, "chat") == {"outcome": "selected", "optionId": "allow_always"}
    assert ed.lua(outcome, PARAMS, "workspace") == {
        "outcome": "selected",
        "optionId": "allow_always",
    }
    assert ed.lua(outcome, PARAMS, "reject") == {"outcome": "selected", "optionId": "reject_once"}
    # Option ids are the daemon's: answered as given, never guessed from the kind.
    renamed = {**PARAMS, "options": [{**o, "optionId": "opt-" + o["kind"]} for o in OPTIONS]}
    assert ed.lua(outcome, renamed, "chat")["optionId"] == "opt-allow_always"
    # Not offered: the answer falls back to reject, or to cancelled without any option.
    only_once = {**PARAMS, "options": [OPTIONS[0], OPTIONS[2]]}
    assert ed.lua(outcome, only_once, "workspace")["optionId"] == "reject_once"
    assert ed.lua(outcome, {**PARAMS, "options": []}, "once") == {"outcome": "cancelled"}

    rule = "return require('caw.permission').workspace_rule(...)"
    assert ed.lua(rule, PARAMS, "workspace") == {
        "tool": "Bash",
        "pattern": "touch a.txt",
        "action": "allow",
    }
    assert ed.lua(rule, PARAMS, "chat") is None
    assert ed.lua(rule, {**PARAMS, "alwaysRule": None}, "workspace") is None


def test_the_window_shows_the_command_or_a_diff(editors, nvim_env, tmp_path):
    ed = editors(make_workspace(tmp_path / "ws"), nvim_env)
    lines = "return { require('caw.permission').lines(...) }"
    assert ed.lua(lines, PARAMS) == [["$ touch a.txt"], False]
    edit = {
        **PARAMS,
        "toolCall": {
            **CALL,
            "kind": "edit",
            "content": [
                {"type": "diff", "path": "/w/a.py", "oldText": "x = 1\ny = 2\n", "newText": "x = 1\ny = 3\n"},
                {"type": "diff", "path": "/w/new.txt", "oldText": None, "newText": "hi\n"},
            ],
        },
    }  # fmt: skip
    shown, is_diff = ed.lua(lines, edit)
    assert is_diff
    assert shown[:2] == ["--- a//w/a.py", "+++ b//w/a.py"]
    assert "-y = 2" in shown and "+y = 3" in shown and " x = 1" in shown
    assert "--- /dev/null" in shown and "+hi" in shown


def test_workspace_rules_live_in_the_private_state_file(editors, nvim_env, state_file, tmp_path):
    a, b = make_workspace(tmp_path / "a"), make_workspace(tmp_path / "b")
    ed = editors(a, nvim_env)
    rule = {"tool": "Bash", "pattern": "touch a.txt", "action": "allow"}
    ed.lua("require('caw.state').add_rule(...)", str(a), rule)
    ed.lua("require('caw.state').add_rule(...)", str(a), rule)  # kept once
    ed.lua("require('caw.state').remember(...)", str(a), {"sessionId": "s1", "provider": "codex"})
    assert ed.lua("return require('caw.state').rules(...)", str(a)) == [rule]
    assert ed.lua("return require('caw.state').rules(...)", str(b)) == []  # per workspace
    data = json.loads(state_file.read_text())
    assert data["workspaces"][str(a)]["rules"] == [rule]
    assert data["workspaces"][str(a)]["chats"][0]["sessionId"] == "s1"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    # A damaged rule in the file is skipped, not sent.
    data["workspaces"][str(a)]["rules"].append({"tool": "Bash"})
    state_file.write_text(json.dumps(data))
    assert ed.lua("return require('caw.state').rules(...)", str(a)) == [rule]
    ed.cmd(f"cd {a} | CawForgetRules")
    assert ed.lua("return require('caw.state').rules(...)", str(a)) == []
    assert "forgot the permission rules of " + str(a) in ed.notes()[-1]


def test_initialize_and_session_start_carry_the_mode_and_rules(editors, nvim_env, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    ed = editors(ws, nvim_env, {"init_options": {"logLevel": "debug"}})
    init = ed.lua("return require('caw.daemon').client_config(...).init_options", str(ws))
    assert init == {
        "permissionMode": "ask",
        "clientCapabilities": {"permissions": True},
        "logLevel": "debug",
    }
    ed.lua("require('caw').setup({ permission_mode = 'bypass' })")
    init = ed.lua("return require('caw.daemon').client_config(...).init_options", str(ws))
    assert init["permissionMode"] == "bypass"
    rule = {"tool": "*", "pattern": "git status", "action": "allow"}
    ed.lua("require('caw.state').add_rule(...)", str(ws), rule)
    params = ed.lua(
        "return require('caw.chat').get(...):_permission_params({ cwd = 'x' })", str(ws)
    )
    assert params == {"cwd": "x", "permissionMode": "bypass", "permissionRules": [rule]}


def test_checkhealth_names_the_permission_mode(editors, nvim_env, tmp_path):
    ws = make_workspace(tmp_path / "ws")
    # No daemon: the check reports it missing, and still reports the mode.
    ed = editors(ws, nvim_env, {"cmd": ["caw-server-not-installed"], "permission_mode": "bypass"})
    ed.cmd("checkhealth caw")
    report = ed.lua("return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n')")
    assert (
        'permission_mode = "bypass": the agent runs every command and edit without asking' in report
    )

"""The real `codex` CLI (exec and app-server) against the scripted model server."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

EXEC = ["exec", "--json", "--skip-git-repo-check"]


@pytest.fixture
def codex(require_cli):
    return require_cli("codex")


def agent_messages(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["item"]["text"]
        for e in events
        if e.get("type") == "item.completed" and e["item"]["type"] == "agent_message"
    ]


def test_exec_and_exec_resume(codex, scripted, cli_env, run_cli):
    env = cli_env("codex")
    proc = run_cli([codex, *EXEC, "My deploy target is staging-eu. Remember that."], env)
    assert proc.returncode == 0, proc.stderr
    events = run_cli.json_lines(proc.stdout)
    assert not [e for e in events if e.get("item", {}).get("type") == "error"], (
        events
    )  # no metadata warning
    thread_id = next(e["thread_id"] for e in events if e["type"] == "thread.started")
    assert agent_messages(events) == ["Noted: deploy target is staging-eu."]

    proc = run_cli(
        [
            codex,
            "exec",
            "resume",
            thread_id,
            "--json",
            "--skip-git-repo-check",
            "Where am I deploying?",
        ],
        env,
    )
    assert proc.returncode == 0, proc.stderr
    events = run_cli.json_lines(proc.stdout)
    assert agent_messages(events) == ["staging-eu"]
    assert next(e["thread_id"] for e in events if e["type"] == "thread.started") == thread_id
    last = scripted.main_requests()[-1]
    assert last.user_texts() == [
        "My deploy target is staging-eu. Remember that.",
        "Where am I deploying?",
    ]
    assert last.headers["authorization"] == "Bearer test-key"
    assert last.model == "caw-scripted-1"
    assert last.session_id == thread_id


def test_exec_tool_directive(codex, scripted, cli_env, run_cli):
    proc = run_cli([codex, *EXEC, "[[tool:bash:echo hello]] Run it."], cli_env("codex"))
    assert proc.returncode == 0, proc.stderr
    events = run_cli.json_lines(proc.stdout)
    commands = [
        e["item"]
        for e in events
        if e.get("type") == "item.completed" and e["item"]["type"] == "command_execution"
    ]
    assert (
        len(commands) == 1
        and commands[0]["exit_code"] == 0
        and "echo hello" in commands[0]["command"]
    )
    assert agent_messages(events) == ["Tool said: hello"]
    assert [r.reply_tool for r in scripted.main_requests()] == ["exec_command", None]


def test_exec_error_directive_fails_the_turn(codex, scripted, cli_env, run_cli):
    proc = run_cli([codex, *EXEC, "[[fail:500]] hello"], cli_env("codex"))
    assert proc.returncode == 1
    events = run_cli.json_lines(proc.stdout)
    assert any(e["type"] == "turn.failed" for e in events)
    assert len(scripted.main_requests()) == 1  # max_retries=0


class AppServer:
    """A minimal JSON-lines client of `codex app-server`."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd) -> None:
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.messages.put(json.loads(line))
        self.messages.put(None)

    def send(
        self, method: str, params: dict[str, Any] | None = None, notify: bool = False
    ) -> int | None:
        msg: dict[str, Any] = {"method": method}
        if params is not None:
            msg["params"] = params
        if not notify:
            self.next_id += 1
            msg["id"] = self.next_id
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        return msg.get("id")

    def until(self, predicate, timeout: float = 30) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        seen: list[dict[str, Any]] = []
        while True:
            msg = self.messages.get(timeout=timeout)
            if msg is None:
                raise AssertionError(f"app-server exited; saw {seen}")
            seen.append(msg)
            if predicate(msg):
                return msg, seen

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id = self.send(method, params)
        msg, _ = self.until(lambda m: m.get("id") == request_id)
        assert "error" not in msg, msg
        return msg["result"]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_app_server_turns(codex, scripted, cli_env, run_cli):
    server = AppServer([codex, "app-server"], cli_env("codex"), run_cli.workdir)
    try:
        server.call(
            "initialize",
            {"clientInfo": {"name": "caw-tests", "title": "caw tests", "version": "0"}},
        )
        server.send("initialized", notify=True)
        thread = server.call(
            "thread/start",
            {
                "cwd": str(run_cli.workdir),
                "approvalPolicy": "never",
                "sandbox": "danger-full-access",
            },
        )["thread"]
        answers = []
        for text in ["My favorite number is 42. Acknowledge it.", "What is my favorite number?"]:
            server.call(
                "turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": text}]}
            )
            done, seen = server.until(lambda m: m.get("method") == "turn/completed")
            assert done["params"]["turn"]["status"] == "completed"
            answers.append(
                "".join(
                    m["params"]["delta"]
                    for m in seen
                    if m.get("method") == "item/agentMessage/delta"
                )
            )
        assert answers == ["Noted: favorite number is 42.", "42"]
    finally:
        server.close()
    assert scripted.main_requests()[-1].user_texts() == [
        "My favorite number is 42. Acknowledge it.",
        "What is my favorite number?",
    ]

"""The real `opencode` CLI (run and serve) against the scripted model server."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def opencode(require_cli):
    return require_cli("opencode")


def texts(events: list[dict[str, Any]]) -> list[str]:
    return [e["part"]["text"] for e in events if e.get("type") == "text"]


def test_run_and_run_session(opencode, scripted, cli_env, run_cli):
    env = cli_env("opencode")
    proc = run_cli(
        [opencode, "run", "--format", "json", "My deploy target is staging-eu. Remember that."],
        env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    events = run_cli.json_lines(proc.stdout)
    assert texts(events) == ["Noted: deploy target is staging-eu."]
    session_id = events[0]["sessionID"]
    assert session_id.startswith("ses_")

    proc = run_cli(
        [opencode, "run", "--format", "json", "--session", session_id, "Where am I deploying?"],
        env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert texts(run_cli.json_lines(proc.stdout)) == ["staging-eu"]
    last = scripted.main_requests()[-1]
    assert last.user_texts() == [
        "My deploy target is staging-eu. Remember that.",
        "Where am I deploying?",
    ]
    assert last.model == "caw-scripted-1" and last.headers["x-api-key"] == "test-key"
    assert last.session_id == session_id
    # opencode asks for a title once, in a side request without tools.
    assert [r.kind for r in scripted.requests if r.path.endswith("/messages")].count("side") == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_with_password(opencode, scripted, cli_env, run_cli):
    password = "s3cret-test"
    env = cli_env("opencode", extra={"OPENCODE_SERVER_PASSWORD": password})
    port = free_port()
    proc = subprocess.Popen(
        [opencode, "serve", "--hostname", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=run_cli.workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        listening = threading.Event()

        def watch() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if re.search(r"listening on http://", line):
                    listening.set()

        threading.Thread(target=watch, daemon=True).start()
        assert listening.wait(90), "opencode serve did not start listening"
        url = f"http://127.0.0.1:{port}"
        assert httpx.post(url + "/session", json={}, timeout=10).status_code == 401
        with httpx.Client(base_url=url, auth=("opencode", password), timeout=120) as c:
            session = c.post("/session", json={}).json()
            assert session["id"].startswith("ses_")

            def say(text: str) -> list[str]:
                r = c.post(
                    f"/session/{session['id']}/message",
                    json={"parts": [{"type": "text", "text": text}]},
                )
                assert r.status_code == 200, r.text
                body = r.json()
                assert body["info"]["role"] == "assistant"
                return [p["text"] for p in body["parts"] if p["type"] == "text"]

            assert say("My deploy target is staging-eu. Remember that.") == [
                "Noted: deploy target is staging-eu."
            ]
            assert say("Where am I deploying?") == ["staging-eu"]
            assert say("[[tool:bash:echo hello]] Run it.") == ["Tool said: hello"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    main = scripted.main_requests()
    assert main[1].user_texts() == [
        "My deploy target is staging-eu. Remember that.",
        "Where am I deploying?",
    ]
    assert main[2].reply_tool == "bash"
    assert main[3].reply_text == "Tool said: hello"

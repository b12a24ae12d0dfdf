"""The viewer in a real headless chromium: the list, a session with a tool call and a diff,
a live update while a session runs, search, and a wrong token refused. Screenshots go to
test-output/viewer/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from caw.viewer import ViewerServer, start_viewer_server
from tests.cli.support import caw, last_json

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("drive.cjs")
PLAYWRIGHT_DIR = REPO / "clients" / "vscode" / "node_modules"
CHROMIUM = os.environ.get("CAW_E2E_CHROMIUM", "/usr/bin/chromium")
SHOTS = REPO / "test-output" / "viewer"
LEGACY = REPO / "tests" / "cli" / "fixtures" / "traj-0.1.9.json"

pytestmark = pytest.mark.e2e


def _missing() -> list[str]:
    missing = []
    if not shutil.which("node"):
        missing.append("node")
    if not (PLAYWRIGHT_DIR / "playwright-core").is_dir():
        missing.append("playwright-core (clients/vscode/node_modules)")
    if not Path(CHROMIUM).exists():
        missing.append(f"chromium ({CHROMIUM})")
    return missing


class Browser:
    """One headless chromium page, driven over drive.cjs's JSON lines."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(DRIVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "CAW_PLAYWRIGHT_DIR": str(PLAYWRIGHT_DIR), "CAW_E2E_CHROMIUM": CHROMIUM},
            start_new_session=True,
        )  # fmt: skip
        assert self.read() == {"ready": True}

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the chromium driver ended"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def do(self, op: str, **kw: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        answer = self.read()
        assert answer.get("ok"), f"{op} {kw}: {answer}"
        return answer.get("value", answer.get("status"))

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.do("screenshot", path=str(SHOTS / f"{name}.png"))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    missing = _missing()
    if missing:
        reason = f"viewer e2e toolchain missing: {', '.join(missing)}; run clients/vscode/scripts/install-e2e.sh"
        if os.environ.get("CI"):
            raise RuntimeError(reason)
        pytest.skip(reason)
    b = Browser()
    yield b
    b.close()


@pytest.fixture
def claude_env(cli_env, require_cli):
    require_cli("claude_code")
    return cli_env("claude_code")


@pytest.fixture
def viewer(tmp_path) -> Iterator[ViewerServer]:
    server = start_viewer_server(data_dir=tmp_path / "data")
    yield server
    server.stop()
    assert not server.check_status()


def test_a_session_with_a_tool_call_and_a_diff(browser, viewer, claude_env, scripted, tmp_path):
    data = str(tmp_path / "data")
    target = tmp_path / "notes.txt"
    prompt = f"Write the notes [[tool:write:{target}:the first line]]"
    out = caw("run", "--json", "--data-dir", data, prompt, env=claude_env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert target.read_text().strip() == "the first line"
    session_id = last_json(out)["sessionId"]
    assert viewer.check_status() and viewer.url.startswith("http://127.0.0.1:")

    assert browser.do("goto", url=viewer.url) == 200
    browser.do("waitText", selector="tr.session", text="Write the notes")
    browser.shot("list")
    browser.do("click", selector=f'tr[data-session-id="{session_id}"] a')
    browser.do("wait", selector="section.turn")
    assert browser.do("text", selector=".tool .tname") == ["Write"]
    # the edit's diff shows unfolded; the call's input and output fold under its summary
    assert browser.do("text", selector=".tool .file") == [str(target)]
    assert browser.do("text", selector="pre.diff .add")[-1] == "+the first line"
    assert browser.do("eval", js="document.querySelector('.tool details').open") is False
    browser.do("click", selector=".tool summary")
    assert str(target) in browser.do("text", selector=".tool details pre")[0]
    assert browser.do("text", selector=".tool pre.out")[0].strip()
    assert browser.do("text", selector=".agent .md")[-1].startswith("Tool said:")
    assert browser.do("eval", js="document.querySelectorAll('svg.chart rect.bar').length") == 1
    usage = browser.do("text", selector=".usage")[0]
    assert usage.startswith("turn 1: in ") and "cost $" in usage
    browser.shot("session-tool-call")

    # A 0.1.9 trajectory file with an Edit (a diff), thinking and a nested subagent, by ?path=
    assert browser.do("goto", url=viewer.url_for(f"file?path={LEGACY}")) == 200
    diff = browser.do("text", selector="pre.diff .del") + browser.do(
        "text", selector="pre.diff .add"
    )
    assert diff == ["-teh module", "+the module"]
    assert browser.do("text", selector="details.thinking summary") == ["thinking (41 characters)"]
    browser.do("click", selector="details.subagent > summary")
    assert "Review auth.py" in "".join(browser.do("text", selector="details.subagent .user"))
    browser.shot("legacy-diff-subagent")


def test_a_session_written_by_another_process_appears_live(
    browser, viewer, claude_env, scripted, tmp_path
):
    assert browser.do("goto", url=viewer.url) == 200
    browser.do("wait", selector="#live.on")  # the event stream is open
    proc = subprocess.Popen(
        [sys.executable, "-m", "caw.cli", "run", "--data-dir", str(tmp_path / "data"),
         "[[slow:3]] Repeat after me: live and well"],
        env=claude_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # While the turn runs the session is already listed (no turns yet) ...
        browser.do("waitText", selector="tr.session", text="(no turns yet)", timeout=30000)
        browser.shot("live-running")
        assert proc.poll() is None
        # ... and its title arrives when the turn ends, without a reload.
        browser.do("waitText", selector="tr.session", text="live and well", timeout=60000)
        browser.shot("live-done")
    finally:
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert browser.do("eval", js="performance.getEntriesByType('navigation').length") == 1
    # search narrows the list
    browser.do("fill", selector="#q", value="no such words")
    browser.do("waitText", selector="#list", text="No sessions match.")
    browser.do("fill", selector="#q", value="live")
    browser.do("waitText", selector="tr.session", text="live and well")


def test_a_wrong_or_missing_token_is_refused(browser, viewer):
    base = viewer.url.rsplit("/", 2)[0]
    assert browser.do("goto", url=f"{base}/not-the-token/") == 403
    browser.shot("wrong-token")
    assert "forbidden" in browser.do("text", selector="body")[0]
    with httpx.Client() as client:
        assert client.get(f"{base}/").status_code == 403
        assert client.get(f"{base}/not-the-token/events").status_code == 403
        assert client.get(f"{base}/{viewer.token}x/").status_code == 403
        assert client.get(viewer.url_for("static/viewer.js")).status_code == 200
        assert client.get(viewer.url_for("s/not-a-session")).status_code == 404
        # a page of the right origin only: another Host (DNS rebinding) is refused
        other = client.get(viewer.url, headers={"host": "evil.example:80"})
        assert other.status_code == 400
        page = client.get(viewer.url)
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert repr(viewer).count(viewer.token) == 0


def test_model_text_is_escaped_not_run(viewer, tmp_path):
    """Markdown is rendered with raw HTML off: a model's <script> is shown, never run."""
    from caw.viewer.render import markdown

    html = markdown("**bold** <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html


def test_only_loopback(tmp_path):
    with pytest.raises(ValueError, match="loopback"):
        start_viewer_server(host="0.0.0.0", data_dir=tmp_path)
    time.sleep(0)

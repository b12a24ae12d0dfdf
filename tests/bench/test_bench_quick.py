"""bench/run.py --quick: every measurement runs end to end (no timing assertions: only that the harness works)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from caw.testing import cli_path

REPO = Path(__file__).resolve().parents[2]
PROVIDERS = ("claude_code", "codex", "opencode")

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(900)
def test_quick_mode_runs_every_measurement(tmp_path: Path) -> None:
    missing = [p for p in PROVIDERS if cli_path(p) is None]
    if missing:
        pytest.skip(f"CLIs not installed: {', '.join(missing)} (npm ci in tests/backends)")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=850, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    assert results["errors"] == []
    assert results["meta"]["quick"] is True
    for provider in PROVIDERS:
        for column in ("floor", "library", "server"):
            assert results["turns"]["0"][provider][column]["summary"]["n"] == 3, (provider, column)
    deep = ("claude_code", "codex")  # quick mode keeps opencode to the per-turn measurement
    for provider in deep:
        assert results["streaming"][provider]["server"]["first_delta"]["n"] >= 1
        assert results["resume"][provider]["server"]["resume_to_answer"]["n"] == 1
        levels = results["concurrency"][provider]
        assert {n: r["correct"] == r["turns"] for n, r in levels.items()} == {"2": True}
        memory = results["memory"][provider]
        assert memory["all_reaped"] and memory["answer_after_reaping_correct"]
        large = results["large"][provider]["300000/20"]
        assert {column: r["streamed"] for column, r in large.items()} == {
            "floor": 300_000, "library": 300_000, "server": 300_000,
        }  # fmt: skip
    first = results["first"]  # the first answer (issue 20), one provider in quick mode
    assert first["cold"]["daemon"]["n"] == 2 and first["cold"]["pygls"]["n"] == 2
    assert first["new_chat"]["claude_code"]["standby"]["n"] == 1
    assert first["new_chat"]["claude_code"]["no_standby"]["n"] == 1
    assert first["new_chat"]["claude_code"]["warm_after_pause"]["n"] == 1
    # The warm turns are taken rep by rep, beside the new chats: first_turns (2) per rep (1).
    assert first["new_chat"]["claude_code"]["warm"]["n"] == 2
    assert first["idle"]["claude_code"]["warm"]["n"] == 2
    assert first["reopened"]["claude_code"]["send_after_gap"]["n"] == 1
    assert first["reopened"]["claude_code"]["resume_to_answer"]["n"] == 1
    assert first["idle"]["claude_code"]["sessions"] == 3
    report = (out / "results.md").read_text()
    assert report.startswith("# caw benchmark results") and "### Targets (issue 6)" in report
    assert "### The first answer (issue 20)" in report
    # ... next to the bare CLI (turns and resume phases of the same run); no caw 0.1.9 in quick mode.
    tables = (line.strip().strip("|").split("|") for line in report.splitlines())
    rows = {(cells[0], cells[1]): cells[2:] for cells in ([c.strip() for c in t] for t in tables)
            if len(cells) == 7 and cells[0] == "claude_code"}  # fmt: skip
    for situation in ("new chat", "reopened: resume -> answer, no gap", "warm turn"):
        bare, old, server, to_bare, to_old = rows[("claude_code", situation)]
        assert "–" not in (bare, server) and to_bare.endswith("x") and old == to_old == "–", (
            situation
        )
    if importlib.util.find_spec("matplotlib") is not None:  # the charts need the bench extra
        assert (out / "first-answer.png").stat().st_size > 0

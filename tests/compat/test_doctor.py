"""``caw doctor`` shows each provider's credential signals; ``--live`` probes each one through
its real CLI (against the scripted server)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def doctor(env, *args):
    done = subprocess.run(
        [sys.executable, "-m", "caw.cli", "doctor", *args], env=env, capture_output=True, text=True, timeout=240
    )  # fmt: skip
    return done.stdout


def test_doctor_shows_credentials_and_live_probes(cli_env, scripted):
    env = cli_env("claude_code")
    out = doctor(env)
    assert "credentials: found (ANTHROPIC_API_KEY is set)" in out
    assert "credentials: not found (no API key and no" in out  # codex: nothing in this home
    assert "probe:" not in out
    live = doctor(env, "--live")
    claude_block = live.split("codex")[0]
    assert "probe: answers" in claude_block
    assert scripted.main_requests(), "the live probe sent a request"
    # codex has no credentials in claude's test home: its probe reports a failure, never hangs.
    assert live.count("probe:") == 3, live
    assert re.search(r"^  codex .*?probe: failed", live, re.S | re.M), live

"""The reliability report's figures: each categorised case's outcome, written to
``test-output/reliability.json`` at the end of a run (see tests/reliability/conftest.py).

A plugin of the top-level conftest rather than hooks of tests/reliability/conftest.py:
under pytest-xdist the controller, which alone sees every worker's reports, loads only
the top-level conftest.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output" / "reliability.json"
FULL = os.environ.get("CAW_RELIABILITY", "").strip().lower() == "full"

_results: dict[str, dict[str, Any]] = {}
_started = time.time()


def _category(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("reliability")
    return marker.args[0] if marker else None


_CATEGORY = "reliability_category"


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    # The category travels on the report, so the tally below also works in
    # pytest-xdist's controller, which sees reports but not items.
    outcome = yield
    category = _category(item)
    if category is not None:
        outcome.get_result().user_properties.append((_CATEGORY, category))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    properties = dict(report.user_properties)
    category = properties.pop(_CATEGORY, None)
    if category is None:
        return
    entry = _results.setdefault(
        report.nodeid,
        {"category": category, "outcome": "passed", "duration": 0.0, "properties": {}},
    )
    entry["duration"] += report.duration
    entry["properties"].update(properties)
    if report.when == "call" or report.outcome != "passed":
        if hasattr(report, "wasxfail"):
            entry["outcome"] = "xfailed" if report.skipped else "xpassed"
            entry["reason"] = report.wasxfail
        elif report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
        elif report.skipped:
            entry["outcome"] = "skipped"
            entry["reason"] = (
                str(report.longrepr[-1])
                if isinstance(report.longrepr, tuple)
                else str(report.longrepr)
            )
        if entry["outcome"] in ("failed", "error") and entry.get("reason") is None:
            entry["reason"] = (
                (report.longreprtext or "").strip().splitlines()[-1:][0][:300]
                if report.longreprtext
                else ""
            )


def _versions() -> dict[str, str]:
    out = {}
    modules = REPO / "tests" / "backends" / "node_modules"
    for name, package in (
        ("claude", "@anthropic-ai/claude-code"),
        ("codex", "@openai/codex"),
        ("opencode", "opencode-ai"),
    ):
        with contextlib.suppress(OSError, ValueError, KeyError):
            out[name] = json.loads((modules / package / "package.json").read_text())["version"]
    return out


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _results or _is_xdist_worker(session.config):
        return
    categories: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(float))
    for entry in _results.values():
        c = categories[entry["category"]]
        cases = int(entry["properties"].get("cases", 1))
        c["tests"] += 1
        c["cases"] += cases
        c[entry["outcome"]] += 1
        if entry["outcome"] == "passed":
            c["cases_passed"] += cases
        c["seconds"] += entry["duration"]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            check=False,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    report = {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "pytest " + " ".join(session.config.invocation_params.args),
        "size": "full" if FULL else "ci",
        "hypothesis_profile": settings.get_current_profile_name(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(terse=True),
        },
        "commit": commit,
        "clis": _versions(),
        "wall_seconds": round(time.time() - _started, 1),
        "categories": {
            name: {
                k: (round(v, 1) if k == "seconds" else int(v)) for k, v in sorted(values.items())
            }
            for name, values in sorted(categories.items())
        },
        "tests": _results,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(report, indent=1, default=str) + "\n")

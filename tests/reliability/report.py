"""Turn test-output/reliability.json (written by the suite's conftest) into docs/reliability.md's tables.

    python -m tests.reliability.report            # print the tables
    python -m tests.reliability.report --write    # replace the generated part of docs/reliability.md

Only the part between the ``reliability:<size>:begin`` / ``...:end`` markers of the run's
size (ci or full) is generated; the rest of the document is prose kept by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "test-output" / "reliability.json"
DOC = REPO / "docs" / "reliability.md"
# One generated part per size of run (ci, full).
BEGIN, END = "<!-- reliability:{size}:begin -->", "<!-- reliability:{size}:end -->"

CATEGORIES = {
    "model-faults": ("Model server faults", "tests/reliability/test_model_faults.py"),
    "backend-killed": ("Backend killed mid-turn", "tests/reliability/test_backend_killed.py"),
    "daemon-killed": ("Daemon killed mid-turn", "tests/reliability/test_daemon_killed.py"),
    "disk": ("Disk full or read-only", "tests/reliability/test_disk.py"),
    "load": ("Load", "tests/reliability/test_load.py"),
    "protocol": (
        "Protocol: fuzzer and JSON-RPC 2.0 examples",
        "tests/reliability/test_protocol_fuzz.py",
    ),
    "handles": ("Tampered handles and ids", "tests/reliability/test_handles.py"),
    "secrets": ("Secrets", "tests/reliability/test_secrets.py"),
    "odd-output": ("Odd CLI output", "tests/reliability/test_odd_output.py"),
    "argv": ("Options and secrets on argv", "tests/reliability/test_argv.py"),
    "processes": ("Processes and limits", "tests/reliability/test_processes.py"),
    "trust": ("Workspace trust", "tests/reliability/test_trust.py"),
}


def _scenario(nodeid: str) -> tuple[str, str]:
    """('test function', 'its parameters') of a node id."""
    name = nodeid.split("::", 1)[1]
    base, _, params = name.partition("[")
    return base, params.rstrip("]")


def _title(function: str) -> str:
    return function.removeprefix("test_").replace("_", " ")


def tables(report: dict[str, Any]) -> str:
    """The summary table; for the bounded (ci) run also a table per category, for the full run its notes only."""
    detail = report["size"] == "ci"
    by_category: dict[str, dict[str, list[tuple[str, dict]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for nodeid, entry in report["tests"].items():
        function, params = _scenario(nodeid)
        by_category[entry["category"]][function].append((params, entry))
    out = [
        f"Figures from the run of {report['generated']} (commit `{report['commit']}`), command `{report['command']}`, "
        f"size `{report['size']}`, hypothesis profile `{report['hypothesis_profile']}`, "
        f"{report['machine']['cpus']} CPUs, Python {report['machine']['python']}, "
        + ", ".join(f"{k} {v}" for k, v in report.get("clis", {}).items())
        + f"; {report['wall_seconds']:g} s in all.",
        "",
        "| Category | Cases run | Passed | Failed | Known bugs (xfail) | Skipped | Seconds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    total: defaultdict[str, float] = defaultdict(float)
    for key, (title, _) in CATEGORIES.items():
        if key not in report["categories"]:
            continue
        c = report["categories"][key]
        failed = c.get("failed", 0) + c.get("error", 0) + c.get("xpassed", 0)
        row = (
            c.get("cases", 0),
            c.get("cases_passed", 0),
            failed,
            c.get("xfailed", 0),
            c.get("skipped", 0),
            c.get("seconds", 0),
        )
        for name, value in zip(
            ("cases", "passed", "failed", "xfailed", "skipped", "seconds"), row, strict=False
        ):
            total[name] += value
        name = f"[{title}](#{_anchor(title)})" if detail else title
        out.append(
            f"| {name} | {row[0]} | {row[1]} | {row[2]} | {row[3]} | {row[4]} | {row[5]:.0f} |"
        )
    out.append(
        f"| **All** | **{total['cases']:.0f}** | **{total['passed']:.0f}** | **{total['failed']:.0f}** | "
        f"**{total['xfailed']:.0f}** | **{total['skipped']:.0f}** | **{total['seconds']:.0f}** |"
    )
    for key, (title, path) in CATEGORIES.items():
        functions = by_category.get(key)
        if not functions:
            continue
        if not detail:
            notes = _notes(key, functions)
            out += [""] + notes if notes else []
            continue
        out += [
            "",
            f"#### {title}",
            "",
            f"`.venv/bin/pytest {path}`",
            "",
            "| Scenario | Runs | Cases | Passed | Outcome | What is lost |",
            "|---|---:|---:|---:|---|---|",
        ]
        for function, items in functions.items():
            cases = sum(int(e["properties"].get("cases", 1)) for _, e in items)
            passed = sum(
                int(e["properties"].get("cases", 1)) for _, e in items if e["outcome"] == "passed"
            )
            outcomes = defaultdict(list)
            for params, e in items:
                outcomes[e["outcome"]].append(params)
            summary = "; ".join(
                outcome
                if outcome == "passed" and len(outcomes) == 1
                else f"{outcome}: {', '.join(p or '-' for p in params)}"
                for outcome, params in outcomes.items()
            )
            lost = sorted(
                {e["properties"]["lost"] for _, e in items if e["properties"].get("lost")}
            )
            out.append(
                f"| {_title(function)} | {len(items)} | {cases} | {passed} | {summary} | {'; '.join(lost) or 'nothing'} |"
            )
        notes = _notes(key, functions)
        if notes:
            out += [""] + notes
    reasons = sorted(
        {
            (e.get("reason") or "").strip()
            for e in report["tests"].values()
            if e["outcome"] in ("xfailed", "skipped", "failed", "error")
        }
        - {""}
    )
    if reasons:
        out += ["", "Reasons given for the cases that did not pass:", ""] + [
            f"- {r}" for r in reasons
        ]
    return "\n".join(out)


def _notes(category: str, functions: dict[str, list[tuple[str, dict]]]) -> list[str]:
    notes = []
    for items in functions.values():
        for _params, entry in items:
            props = entry["properties"]
            if "load" in props:
                load = props["load"]
                notes.append(
                    f"Load figures: {load['sessions']} sessions x {load['turns_each']} turns; starting them took "
                    f"{load['start_seconds']} s, all their turns {load['turns_seconds']} s."
                )
            if "frame_kinds" in props:
                kinds = ", ".join(
                    f"{k} {v}"
                    for k, v in sorted(props["frame_kinds"].items(), key=lambda kv: -kv[1])
                )
                notes.append(
                    f"Fuzzer: {props.get('cases')} draws (each 1-3 frames written at once): {kinds}."
                )
            if "rss_growth_kib" in props:
                notes.append(
                    f"Giant frame: the daemon's resident memory grew by {props['rss_growth_kib']} KiB while it skipped 64 MiB."
                )
    return notes


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(REPO)}")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="a reliability.json (default: the last run's)"
    )
    args = parser.parse_args(argv)
    report = json.loads(args.results.read_text())
    generated = tables(report)
    if not args.write:
        print(generated)
        return 0
    text = DOC.read_text()
    begin, end_marker = BEGIN.format(size=report["size"]), END.format(size=report["size"])
    start, end = text.index(begin) + len(begin), text.index(end_marker)
    DOC.write_text(text[:start] + "\n" + generated + "\n" + text[end:])
    print(f"updated {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

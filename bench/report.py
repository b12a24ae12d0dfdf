"""results.json -> results.md (tables and the issue's targets) and the chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import FLOOR, LIBRARY, OLD, ORDER, PROVIDERS, SERVER, SERVER_NODATA, VARIANT_LABELS

PROVIDER_LABELS = {"claude_code": "claude_code", "codex": "codex", "opencode": "opencode"}
# Issue 6: caw at least this many times faster per turn than caw 0.1.9.
SPEEDUP_TARGETS = {"claude_code": 10, "codex": 5, "opencode": 30}
MIB = 1 << 20


def _s(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def _ms(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x * 1000:.{digits}f} ms"


def _mib(x: float | None) -> str:
    return "–" if x is None else f"{x / MIB:.0f} MiB"


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def _diff(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None else f"{(a - b) * 1000:+.1f} ms"


def _cell(s: dict[str, Any] | None) -> str:
    if not s or not s.get("n"):
        return "–"
    return f"{_s(s['median'])} (p95 {_s(s['p95'])})"


def _median(r: dict[str, Any], provider: str, key: str) -> float | None:
    return (((r.get(provider) or {}).get(key) or {}).get("summary") or {}).get("median")


def turns_tables(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for latency, r in (results.get("turns") or {}).items():
        keys = [k for k in ORDER if any(k in (r.get(p) or {}) for p in r)]
        lines += [
            f"### Per-turn latency, turns 2..N, model time-to-first-token {float(latency) * 1000:.0f} ms",
            "",
        ]
        head = [
            "provider",
            *(VARIANT_LABELS[k] for k in keys),
            "library / floor",
            "caw-server / floor",
            "caw-server − floor",
        ]
        if SERVER_NODATA in keys:
            head += ["no data dir − floor"]
        if OLD in keys:
            head += ["0.1.9 / library", "0.1.9 / caw-server"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for provider, cols in r.items():
            row = [PROVIDER_LABELS.get(provider, provider)] + [
                _cell((cols.get(k) or {}).get("summary")) for k in keys
            ]
            floor, lib, srv, nodata, old = (
                _median(r, provider, k) for k in (FLOOR, LIBRARY, SERVER, SERVER_NODATA, OLD)
            )
            row += [_ratio(lib, floor), _ratio(srv, floor), _diff(srv, floor)]
            if SERVER_NODATA in keys:
                row += [_diff(nodata, floor)]
            if OLD in keys:
                row += [_ratio(old, lib), _ratio(old, srv)]
            lines.append("| " + " | ".join(row) + " |")
        lines += [
            "",
            "Turn 1 (the backend's start and its first answer), and in turns 2..N the time from the model's first delta to the client's first text event:",
            "",
        ]
        head = [
            "provider",
            *(f"{VARIANT_LABELS[k]}: start + turn 1" for k in keys),
            *(f"{VARIANT_LABELS[k]}: first delta, turns 2..N" for k in keys if k != OLD),
        ]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for provider, cols in r.items():
            row = [provider]
            for k in keys:
                c = cols.get(k) or {}
                row.append(
                    _s((c.get("open_seconds") or 0) + c["first_turn_seconds"])
                    if "first_turn_seconds" in c
                    else "–"
                )
            for k in keys:
                if k != OLD:
                    fd = (cols.get(k) or {}).get("first_delta") or {}
                    row.append(_ms(fd.get("median")) if fd.get("n") else "–")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        lines += phases_table(r, keys)
    return lines


PHASE_LABELS = {
    "to_model": "send -> model request",
    "model_and_stream": "model request -> last text event",
    "after_last_delta": "last text event -> turn returned",
    "model_to_end": "model request -> turn returned",
}


def phases_table(r: dict[str, Any], keys: list[str]) -> list[str]:
    """Medians of where a turn's time went (from the model server's log and the client's own times)."""
    if not any((r[p].get(k) or {}).get("phases") for p in r for k in keys):
        return []
    lines = ["Where a turn's time goes (medians; the model server logs when each request arrived):", "",
             "| provider | column | " + " | ".join(PHASE_LABELS.values()) + " |", "|---|---|" + "---|" * len(PHASE_LABELS)]  # fmt: skip
    for provider, cols in r.items():
        for key in keys:
            phases = (cols.get(key) or {}).get("phases") or {}
            if phases:
                cells = [_ms((phases.get(name) or {}).get("median")) for name in PHASE_LABELS]
                lines.append(f"| {provider} | {VARIANT_LABELS[key]} | " + " | ".join(cells) + " |")
    return lines + [""]


def streaming_table(results: dict[str, Any]) -> list[str]:
    st = results.get("streaming")
    if not st:
        return []
    lines = [
        f"### Streaming: {st.get('words')} words, {st.get('delta_delay', 0) * 1000:.0f} ms between deltas",
        "",
        (
            "First delta: the model server wrote its first text delta -> the client got its first text event. "
            "Per delta: each text event's arrival minus when the model server wrote the text it completes."
        ),
        "",
        "| provider | column | first delta median (p95) | added to the floor | per-delta lag median (p95) | added to the floor |",
        "|---|---|---|---|---|---|",
    ]
    for provider, cols in st.items():
        if not isinstance(cols, dict) or (FLOOR not in cols and LIBRARY not in cols):
            continue
        f_first = (cols.get(FLOOR) or {}).get("first_delta", {}).get("median")
        f_delta = (cols.get(FLOOR) or {}).get("delta_lag", {}).get("median")
        for key in (FLOOR, LIBRARY, SERVER, SERVER_NODATA):
            c = cols.get(key)
            if not c or not c["first_delta"]["n"]:
                continue
            first, lag = c["first_delta"], c["delta_lag"]
            add_first = (
                ""
                if key == FLOOR or f_first is None
                else f"{(first['median'] - f_first) * 1000:+.2f} ms"
            )
            add_delta = (
                ""
                if key == FLOOR or f_delta is None or lag["median"] is None
                else f"{(lag['median'] - f_delta) * 1000:+.2f} ms"
            )
            lines.append(
                f"| {provider} | {VARIANT_LABELS[key]} | {_ms(first['median'], 2)} ({_ms(first['p95'], 2)}) | {add_first} "
                f"| {_ms(lag['median'], 2)} ({_ms(lag['p95'], 2)}) | {add_delta} |"
            )
    return lines + [""]


def resume_table(results: dict[str, Any]) -> list[str]:
    rs = results.get("resume")
    if not rs:
        return []
    lines = [
        "### Resume",
        "",
        (
            "A fresh caw-server (its start timed apart) resumes a handle made by another daemon; the first answer must come "
            "from the earlier turn. Bare CLI: a new CLI process resuming the same kind of conversation, until its first answer."
        ),
        "",
        "| provider | fresh daemon start | session/resume | first send | resume -> first answer | bare CLI resume -> first answer | warm turn (caw-server) | resume / warm |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for provider, r in rs.items():
        s = r.get("server") or {}
        if not s:
            continue
        med = {k: v["median"] for k, v in s.items()}
        floor = ((r.get("floor") or {}).get("resume_to_answer") or {}).get("median")
        lines.append(
            f"| {provider} | {_s(med['daemon_start'])} | {_s(med['resume_call'])} | {_s(med['first_send'])} | {_s(med['resume_to_answer'])} "
            f"| {_s(floor)} | {_s(med['warm_turn'])} | {med['resume_to_answer'] / med['warm_turn']:.0f}x |"
        )
    return lines + [""]


def _med(s: dict[str, Any] | None) -> float | None:
    return (s or {}).get("median") if (s or {}).get("n") else None


# The first answer's situations, next to what the bare CLI and caw 0.1.9 pay for them.
FIRST_SITUATIONS = {
    "new_chat": "new chat",
    "reopened_gap": "reopened: send 1 s after resume",
    "reopened": "reopened: resume -> answer, no gap",
    "warm": "warm turn",
}


def first_answer_comparison(
    results: dict[str, Any], provider: str
) -> dict[str, dict[str, float | None]]:
    """Medians per situation (FIRST_SITUATIONS) for the bare CLI, caw 0.1.9 and caw-server.

    caw-server's come from phases.first_answer; the others from the same run's turns phase (model
    at 0 ms, as in phases.first_answer) and resume phase, None when that phase was not run:
    - new chat: the bare CLI's and 0.1.9's start + first answer (turn 1 of the turns phase);
    - reopened: the bare CLI resuming in a new process until its first answer (resume phase);
      caw 0.1.9 has no daemon to resume ahead (its resume_session only keeps the id) and starts
      a new CLI process resuming the conversation at every send, so its figure for both
      reopened rows is its per-turn median (turns 2..N);
    - warm turn: the bare CLI's and caw-server's turns 2..N (caw-server's from phases.first_answer
      only when the turns phase was not run); 0.1.9's per turn.
    """
    turns = (results.get("turns") or {}).get("0") or {}
    cols = turns.get(provider) or {}

    def start_and_first(key: str) -> float | None:
        c = cols.get(key) or {}
        if "first_turn_seconds" not in c:
            return None
        return float((c.get("open_seconds") or 0) + c["first_turn_seconds"])

    floor_turn, old_turn = _median(turns, provider, FLOOR), _median(turns, provider, OLD)
    floor_resume = _med(
        (((results.get("resume") or {}).get(provider) or {}).get("floor") or {}).get(
            "resume_to_answer"
        )
    )
    fa = results.get("first") or {}
    nc = (fa.get("new_chat") or {}).get(provider) or {}
    ro = (fa.get("reopened") or {}).get(provider) or {}
    return {
        "new_chat": {FLOOR: start_and_first(FLOOR), OLD: start_and_first(OLD), SERVER: _med(nc.get("standby"))},
        "reopened_gap": {FLOOR: floor_resume, OLD: old_turn, SERVER: _med(ro.get("send_after_gap"))},
        "reopened": {FLOOR: floor_resume, OLD: old_turn, SERVER: _med(ro.get("resume_to_answer"))},
        "warm": {FLOOR: floor_turn, OLD: old_turn, SERVER: _median(turns, provider, SERVER) or _med(nc.get("warm"))},
    }  # fmt: skip


def first_answer_comparison_table(results: dict[str, Any]) -> list[str]:
    """caw-server's first answer against the bare CLI's and caw 0.1.9's, per provider and situation."""
    fa = results.get("first") or {}
    providers = [
        p
        for p in PROVIDERS
        if ((fa.get("new_chat") or {}).get(p) or (fa.get("reopened") or {}).get(p))
    ]
    if not providers:
        return []
    lines = [
        "Next to the bare CLI and caw 0.1.9 (the same run's turns phase at 0 ms and resume phase; – where"
        " that phase or column was not run). New chat: the bare CLI's and 0.1.9's start + first answer."
        " Reopened: the bare CLI resuming in a new process until its first answer; caw 0.1.9 starts a new"
        " CLI process resuming the conversation at every send, so its figure there (and as its warm turn)"
        " is its per-turn time. caw-server's first answers are the table's above; the warm turns, caw-server's"
        " too, are the turns phase's (the bare CLI's warm turn is measured there only)."
        " The figures of different phases were measured at different moments of the run."
        " Ratios: caw-server's time / theirs (below 1x: caw-server answers sooner).",
        "",
        "| provider | situation | bare CLI | caw 0.1.9 | caw-server | caw-server / bare CLI | caw-server / caw 0.1.9 |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for provider in providers:
        for situation, cells in first_answer_comparison(results, provider).items():
            floor, old, srv = cells[FLOOR], cells[OLD], cells[SERVER]
            lines.append(
                f"| {provider} | {FIRST_SITUATIONS[situation]} | {_s(floor)} | {_s(old)} | {_s(srv)} "
                f"| {_ratio(srv, floor)} | {_ratio(srv, old)} |"
            )
    return lines + [""]


def first_answer_tables(results: dict[str, Any]) -> list[str]:
    """phases.first_answer: the first answer against a warm turn (issue 20)."""
    fa = results.get("first")
    if not fa:
        return []
    lines = ["### The first answer (issue 20)", ""]
    cold = fa.get("cold") or {}
    if cold:
        lines += [
            "Cold daemon: `caw-server` spawned until `initialize` is answered, against"
            ' `python -c "import pygls.lsp.server"` (interleaved).',
            "",
            "| caw-server spawn -> initialize | pygls import | ratio (target 1.5x) |",
            "|---|---|---|",
            f"| {_cell(cold.get('daemon'))} | {_cell(cold.get('pygls'))} "
            f"| {_ratio(_med(cold.get('daemon')), _med(cold.get('pygls')))} |",
            "",
        ]
    rows = []
    for provider in PROVIDERS:
        nc = (fa.get("new_chat") or {}).get(provider) or {}
        ro = (fa.get("reopened") or {}).get(provider) or {}
        idle = (fa.get("idle") or {}).get(provider) or {}
        if not (nc or ro or idle):
            continue
        mem = idle.get("memory") or {}
        rows.append(
            f"| {provider} | {_cell(nc.get('warm'))} | {_cell(nc.get('standby'))} "
            f"| {_ratio(_med(nc.get('standby')), _med(nc.get('warm')))} | {_cell(nc.get('standby_send'))} "
            f"| {_cell(nc.get('no_standby'))} | {_cell(nc.get('warm_after_pause'))} "
            f"| {_ratio(_med(nc.get('standby')), _med(nc.get('warm_after_pause')))} "
            f"| {_cell(ro.get('send_after_gap'))} | {_ratio(_med(ro.get('send_after_gap')), _med(ro.get('warm')))} "
            f"| {_cell(ro.get('resume_to_answer'))} "
            f"| {_cell(idle.get('new_chat'))} | {_ratio(_med(idle.get('new_chat')), _med(idle.get('warm')))} "
            f"| {idle.get('sessions', '–')}: {_mib(mem.get('daemon_rss'))} / {_mib(mem.get('backends_rss'))} ({mem.get('backends', '–')}) |"
        )
    if rows:
        lines += [
            "New chat: `session/start` + first `session/send` in a running daemon whose workspace had a"
            " session (a second after the previous chat), against its warm turn; standby backends on (the default)"
            " and off (`--standby 0`); a warm turn after the same 1 s pause. Reopened editor: a fresh daemon's `session/resume`, then a send 1 s later"
            " (timed from the send), or at once (timed from the resume). Idle: the same new chat with that many"
            " live idle sessions in the daemon; memory: daemon RSS / backends' RSS (processes), standbys included.",
            "",
            "| provider | warm turn | new chat | / warm | its first send alone | new chat, `--standby 0`"
            " | warm turn after a 1 s pause | new chat / it"
            " | reopened: send 1 s after resume | / warm | resume -> answer, no gap | new chat with idle sessions"
            " | / warm | idle sessions: daemon / backends |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    return lines + first_answer_comparison_table(results)


def concurrency_table(results: dict[str, Any]) -> list[str]:
    cs = results.get("concurrency")
    if not cs:
        return []
    lines = [
        "### Concurrency: sessions in one caw-server, all sending at once",
        "",
        "CPU in % of one core over the measured phase (200% = both cores). Memory at the end, every session live.",
        "",
        "| provider | sessions | turns/s | latency median | p95 | daemon CPU | backends CPU | daemon CPU per turn | correct | daemon RSS | backends RSS (PSS) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for provider, levels in cs.items():
        for n, r in levels.items():
            m = r["memory_live"]
            lines.append(
                f"| {provider} | {n} | {r['throughput']:.1f} | {_s(r['latency']['median'])} | {_s(r['latency']['p95'])} "
                f"| {r['daemon_cpu_percent']:.0f}% | {r['backends_cpu_percent']:.0f}% | {r['daemon_cpu_ms_per_turn']:.1f} ms "
                f"| {r['correct']}/{r['turns']} | {_mib(m['daemon_rss'])} | {_mib(m['backends_rss'])} ({_mib(m['backends_pss'])}) |"
            )
    return lines + [""]


def memory_table(results: dict[str, Any]) -> list[str]:
    ms = results.get("memory")
    if not ms:
        return []
    lines = [
        f"### Memory and idle reaping ({ms.get('sessions')} sessions, `--idle-timeout {ms.get('idle_timeout'):g}`)",
        "",
        "| provider | daemon alone | live: daemon | live: backends (processes) | per live session RSS (PSS) | reaped after | after reaping: daemon | backends | send after reaping | answer from history |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for provider, r in ms.items():
        if not isinstance(r, dict) or "base" not in r:
            continue
        lines.append(
            f"| {provider} | {_mib(r['base']['daemon_rss'])} | {_mib(r['live']['daemon_rss'])} "
            f"| {_mib(r['live']['backends_rss'])} ({r['live']['backends']}) | {_mib(r['per_session_rss'])} ({_mib(r['per_session_pss'])}) "
            f"| {r['reaped_after_seconds']:.1f} s | {_mib(r['reaped']['daemon_rss'])} | {r['reaped']['backends']} "
            f"| {_s(r['send_after_reaping'])} | {'yes' if r['answer_after_reaping_correct'] else 'NO'} |"
        )
    return lines + [""]


def large_table(results: dict[str, Any]) -> list[str]:
    lr = results.get("large")
    if not lr:
        return []
    lines = [
        "### Large answers (one turn; time, and peak RSS of the caw process and of the CLI's processes)",
        "",
        "| provider | answer | bare CLI | caw library | caw-server | library peak (CLI's) | daemon peak (CLI's) | CLI alone peak | data dir after the turn (library) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for provider, sizes in lr.items():
        if not isinstance(sizes, dict):
            continue
        for size, row in sizes.items():
            chars, delta = (int(x) for x in size.split("/"))
            f, lib, srv = (row.get(k) or {} for k in (FLOOR, LIBRARY, SERVER))
            lines.append(
                f"| {provider} | {chars / 1e6:g} MB in {delta}-char deltas | {_s(f.get('seconds'))} "
                f"| {_s(lib.get('seconds'))} ({_ratio(lib.get('seconds'), f.get('seconds'))}) "
                f"| {_s(srv.get('seconds'))} ({_ratio(srv.get('seconds'), f.get('seconds'))}) "
                f"| {_mib(lib.get('caw_peak'))} ({_mib(lib.get('cli_peak'))}) | {_mib(srv.get('caw_peak'))} ({_mib(srv.get('cli_peak'))}) "
                f"| {_mib(f.get('cli_peak'))} | {_mib(lib.get('disk'))} ({_ratio(lib.get('disk'), chars)}) |"
            )
    return lines + [""]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 6's targets with the measured value next to each."""
    out: list[dict[str, Any]] = []
    turns = results.get("turns") or {}
    for latency, r in turns.items():
        for provider in r:
            floor, srv = _median(r, provider, FLOOR), _median(r, provider, SERVER)
            if floor is None or srv is None:
                continue
            met = srv <= floor * 1.1 or srv - floor <= 0.002
            nodata = _median(r, provider, SERVER_NODATA)
            also = (
                f"; --no-data-dir {nodata / floor:.2f}x, {(nodata - floor) * 1000:+.1f} ms"
                if nodata is not None
                else ""
            )
            out.append({
                "target": f"caw-server turn within 1.1x (or +2 ms) of the floor — {provider}, TTFT {float(latency) * 1000:.0f} ms",
                "measured": f"{srv / floor:.2f}x, {(srv - floor) * 1000:+.1f} ms ({_s(srv)} vs {_s(floor)}){also}",
                "met": met,
            })  # fmt: skip
    r0 = turns.get("0") or (next(iter(turns.values())) if turns else {})
    for provider, want in SPEEDUP_TARGETS.items():
        old = _median(r0, provider, OLD)
        lib, srv = _median(r0, provider, LIBRARY), _median(r0, provider, SERVER)
        if old is None or (lib is None and srv is None):
            continue
        worst = max(x for x in (lib, srv) if x is not None)
        out.append({
            "target": f"caw at least {want}x faster per turn than caw 0.1.9 — {provider}",
            "measured": f"library {_ratio(old, lib)}, caw-server {_ratio(old, srv)} (0.1.9: {_s(old)})",
            "met": old / worst >= want,
        })  # fmt: skip
    st = results.get("streaming") or {}
    for provider, cols in st.items():
        if not isinstance(cols, dict) or SERVER not in cols or FLOOR not in cols:
            continue
        f, s = cols[FLOOR]["first_delta"]["median"], cols[SERVER]["first_delta"]["median"]
        if f is None or s is None:
            continue
        nd = (cols.get(SERVER_NODATA) or {}).get("first_delta", {}).get("median")
        also = f"; --no-data-dir {(nd - f) * 1000:+.2f} ms" if nd is not None else ""
        out.append({
            "target": f"first delta through caw-server +1 ms or less over the floor — {provider}",
            "measured": f"{(s - f) * 1000:+.2f} ms ({_ms(s, 2)} vs {_ms(f, 2)}){also}",
            "met": s - f <= 0.001,
        })  # fmt: skip
    for provider, levels in (results.get("concurrency") or {}).items():
        top = max(levels, key=int) if levels else None
        if top is None:
            continue
        r = levels[top]
        out.append({
            "target": f"{top} concurrent sessions all correct — {provider}",
            "measured": f"{r['correct']}/{r['turns']} turns correct, p95 {_s(r['latency']['p95'])}",
            "met": r["correct"] == r["turns"],
        })  # fmt: skip
    return out


def render(results: dict[str, Any], out: Path, chart: Path | None = None) -> None:
    meta = results.get("meta", {})
    lines = ["# caw benchmark results", ""]
    m, v = meta.get("machine", {}), meta.get("versions", {})
    lines += [
        f"- command: `{meta.get('command')}`"
        + (" (quick mode: a smoke run, not a measurement)" if meta.get("quick") else ""),
        f"- started {meta.get('started')}, took {meta.get('seconds', 0):.0f} s; load average at start {', '.join(f'{x:.2f}' for x in meta.get('load_at_start', []))}",
        f"- machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB, Linux {m.get('kernel')}, Python {m.get('python')}, Node {m.get('node')}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val),
        f"- caw library and caw-server {'record to a data dir' if meta.get('data_dir') else 'run without a data dir'}",
        "",
    ]
    lines += turns_tables(results) + streaming_table(results) + resume_table(results)
    lines += concurrency_table(results) + memory_table(results) + large_table(results)
    lines += first_answer_tables(results)
    tgs = targets(results)
    if tgs:
        lines += ["### Targets (issue 6)", "", "| target | measured | met |", "|---|---|---|"]
        lines += [
            f"| {t['target']} | {t['measured']} | {'met' if t['met'] else 'missed'} |" for t in tgs
        ]
        lines.append("")
    if results.get("errors"):
        lines += (
            ["### Errors", ""] + [f"- {e.splitlines()[0][:300]}" for e in results["errors"]] + [""]
        )
    (out / "results.md").write_text("\n".join(lines))
    try:
        from chart import draw, draw_first
    except ImportError:
        return
    for path in filter(None, (out / "latency.png", chart)):
        draw(results, path)
    first_chart = chart.with_name("benchmarks-first-answer.png") if chart else None
    for path in filter(None, (out / "first-answer.png", first_chart)):
        draw_first(results, path)

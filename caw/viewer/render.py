"""Server-side HTML for the viewer: everything escaped, markdown rendered with raw HTML off."""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from typing import Any

from markdown_it import MarkdownIt

from .diffs import edit_diffs
from .formats import BlockView, ToolView, TrajectoryView, TurnView, UsageView

# commonmark with raw HTML disabled: a model's "<script>" stays text. markdown-it also refuses
# javascript:/vbscript:/data: links (validateLink).
_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown(text: str) -> str:
    html: str = _md.render(text)
    return html


def _k(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def cost(usage: UsageView) -> str:
    return "–" if usage.cost_usd is None else f"${usage.cost_usd:.4f}"


def seconds(ms: int) -> str:
    return f"{ms / 1000:.1f} s"


def page(title: str, body: str, token: str, extra: str = "") -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · caw viewer</title>
<link rel="stylesheet" href="/{token}/static/viewer.css">
</head><body data-base="/{token}" {extra}>
<header class="top"><a href="/{token}/">caw viewer</a><span id="live" class="live" title="updates live">●</span></header>
<main>{body}</main>
<script src="/{token}/static/viewer.js"></script>
</body></html>"""


# --- the session list -------------------------------------------------------------------------


def session_rows(rows: list[tuple[TrajectoryView, datetime]], token: str) -> str:
    if not rows:
        return '<p class="empty">No sessions match.</p>'
    out = [
        '<table class="sessions"><thead><tr><th>title</th><th>provider</th><th>turns</th>'
        "<th>tokens</th><th>cost</th><th>last activity</th><th>directory</th></tr></thead><tbody>"
    ]
    for view, when in rows:
        usage = view.usage
        out.append(
            f'<tr class="session" data-session-id="{escape(view.session_id)}">'
            f'<td><a href="/{token}/s/{escape(view.session_id)}">{escape(view.title or "(no turns yet)")}</a>'
            f'<div class="sid">{escape(view.session_id)}</div></td>'
            f"<td>{escape(view.agent)}</td><td>{len(view.turns)}</td><td>{_k(usage.total_tokens)}</td>"
            f"<td>{cost(usage)}</td><td>{escape(when.astimezone().strftime('%Y-%m-%d %H:%M:%S'))}</td>"
            f'<td class="cwd">{escape(view.cwd or "")}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


def list_page(
    rows: list[tuple[TrajectoryView, datetime]], query: str, root: str, token: str
) -> str:
    body = (
        f'<h1>Sessions</h1><p class="muted">in {escape(root)}</p>'
        f'<form class="search" method="get" action="/{token}/"><input id="q" name="q" type="search" '
        f'placeholder="search titles, ids, directories, messages" value="{escape(query)}" autofocus>'
        "</form>"
        f'<div id="list" data-refresh="list">{session_rows(rows, token)}</div>'
    )
    return page("Sessions", body, token)


# --- one session ------------------------------------------------------------------------------


def chart(turns: list[TurnView]) -> str:
    """Tokens (bars) and latency (line) per turn, as an inline SVG."""
    if not turns:
        return ""
    width, height, pad = 640, 140, 28
    n = len(turns)
    step = (width - 2 * pad) / n
    max_tokens = max((t.usage.total_tokens for t in turns), default=0) or 1
    max_ms = max((t.duration_ms for t in turns), default=0) or 1
    inner = height - 2 * pad
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-label="tokens and latency per turn">',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" class="axis"/>',
    ]
    points = []
    for i, turn in enumerate(turns):
        x = pad + i * step
        h = inner * turn.usage.total_tokens / max_tokens
        parts.append(
            f'<rect class="bar" x="{x + step * 0.15:.1f}" y="{height - pad - h:.1f}" '
            f'width="{step * 0.7:.1f}" height="{h:.1f}"><title>turn {i + 1}: '
            f"{turn.usage.total_tokens} tokens</title></rect>"
        )
        points.append(f"{x + step / 2:.1f},{height - pad - inner * turn.duration_ms / max_ms:.1f}")
        if n <= 30:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{height - pad + 14}" class="tick">{i + 1}</text>'
            )
    parts.append(f'<polyline class="latency" points="{" ".join(points)}"/>')
    parts += [
        f'<circle class="dot" cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3"/>' for p in points
    ]
    parts.append(
        f'<text x="{pad}" y="14" class="legend">■ tokens (max {_k(max_tokens)})  '
        f"— latency (max {seconds(max_ms)})</text></svg>"
    )
    return "".join(parts)


def _json(value: Any) -> str:
    return escape(json.dumps(value, indent=2, ensure_ascii=False))


def diff_html(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        cls = "add" if line.startswith("+") and not line.startswith("+++") else (
            "del" if line.startswith("-") and not line.startswith("---") else
            "hunk" if line.startswith("@@") else "ctx"
        )  # fmt: skip
        lines.append(f'<span class="{cls}">{escape(line)}</span>')
    return '<pre class="diff">' + "".join(lines) + "</pre>"  # each line is a block span


def tool_html(tool: ToolView, token: str, depth: int) -> str:
    preview = json.dumps(tool.input, ensure_ascii=False)
    preview = preview if len(preview) <= 90 else preview[:89] + "…"
    error = ' <span class="err">error</span>' if tool.is_error else ""
    diffs = "".join(
        f'<div class="file">{escape(d.path)}</div>{diff_html(d.diff)}'
        for d in edit_diffs(tool.name, tool.input)
    )
    output = "(no output yet)" if tool.output is None else tool.output
    sub = ""
    if tool.subagent is not None:
        sub = (
            f'<details class="subagent"><summary>subagent trajectory: {escape(tool.subagent.agent)}, '
            f"{len(tool.subagent.turns)} turns, {_k(tool.subagent.total_usage.total_tokens)} tokens"
            f"</summary>{turns_html(tool.subagent, token, depth + 1)}</details>"
        )
    return (
        f'<div class="tool"><details><summary><span class="tname">{escape(tool.name)}</span> '
        f'<code>{escape(preview)}</code>{error}</summary><div class="label">input</div>'
        f'<pre>{_json(tool.input)}</pre><div class="label">output</div>'
        f'<pre class="out">{escape(output)}</pre></details>{diffs}{sub}</div>'
    )


def block_html(block: BlockView, token: str, depth: int) -> str:
    if block.tool is not None:
        return tool_html(block.tool, token, depth)
    if block.kind == "thinking":
        return (
            f'<details class="thinking"><summary>thinking ({len(block.text)} characters)</summary>'
            f"{markdown(block.text)}</details>"
        )
    return f'<div class="text md">{markdown(block.text)}</div>'


def turn_html(turn: TurnView, token: str, depth: int) -> str:
    u = turn.usage
    status = (
        ""
        if turn.stop_reason == "end_turn"
        else f' <span class="err">{escape(turn.stop_reason)}</span>'
    )
    error = f'<div class="err">{escape(turn.error)}</div>' if turn.error else ""
    blocks = "".join(block_html(b, token, depth) for b in turn.blocks)
    return (
        f'<section class="turn" id="turn-{turn.index + 1}"><div class="user"><span class="who">you</span>'
        f'<div class="md">{markdown(turn.input)}</div></div><div class="agent">{blocks}{error}</div>'
        f'<div class="usage">turn {turn.index + 1}: in {u.input_tokens} · out {u.output_tokens} · '
        f"cache read {u.cache_read_tokens} · cache write {u.cache_write_tokens} · "
        f"cost {cost(u)} · {seconds(turn.duration_ms)}{status}</div></section>"
    )


def turns_html(view: TrajectoryView, token: str, depth: int = 0) -> str:
    return "".join(turn_html(t, token, depth) for t in view.turns)


def session_body(view: TrajectoryView, token: str) -> str:
    usage = view.total_usage
    facts = [
        ("provider", view.agent), ("model", view.model or "–"), ("directory", view.cwd or "–"),
        ("turns", str(len(view.turns))), ("tokens", _k(usage.total_tokens)), ("cost", cost(usage)),
        ("time", seconds(view.duration_ms)), ("format", view.format),
    ]  # fmt: skip
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    return (
        f'<h1>{escape(view.title or "(no turns yet)")}</h1><div class="sid">{escape(view.session_id)}</div>'
        f'<dl class="facts">{dl}</dl>{chart(view.turns)}{turns_html(view, token)}'
    )


def session_page(view: TrajectoryView, token: str, live: bool) -> str:
    body = f'<div id="session" data-refresh="session">{session_body(view, token)}</div>'
    extra = f'data-session-id="{escape(view.session_id)}"' if live else ""
    return page(view.title or view.session_id, body, token, extra)


def error_page(message: str, token: str) -> str:
    return page("Not found", f'<p class="err">{escape(message)}</p>', token)

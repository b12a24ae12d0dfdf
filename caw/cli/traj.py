"""``caw traj FILE|ID`` (also ``caw-traj``): a compact, step-indexed view of a trajectory.

Steps are numbered from 0 as in caw 0.1.9: a ``user`` step per turn input and an ``asst``
step per run of text/thinking. Tool calls belong to the assistant step before them (the
overview names them, ``--step N`` shows their input and output), and a subagent's steps
nest under that step: ``12/3`` is step 3 inside step 12. ``--step`` takes ``7``, ``7-10``,
``12/3``, ``12/3-5`` and comma lists. Each step names its lines in the file (``L12-L15``).
Reads our trajectory.json and caw 0.1.9's format.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..store import Store
from ..viewer.diffs import edit_diffs
from ..viewer.formats import (
    BlockView,
    ToolView,
    TrajectoryFormatError,
    TrajectoryView,
    UsageView,
    load_view,
)
from .common import EXIT_OK, EXIT_USAGE, add_data_dir, data_dir_of, fail
from .resolve import find_session


@dataclass
class Step:
    kind: str  # "user" | "asst"
    blocks: list[BlockView] = field(default_factory=list)
    text: str = ""
    tools: list[ToolView] = field(default_factory=list)
    children: list[Step] = field(default_factory=list)
    lines: tuple[int, int] | None = None  # where the step is in the file (1-based, inclusive)

    @property
    def content(self) -> str:
        if self.kind == "user":
            return self.text
        return "\n".join(b.text.strip() for b in self.blocks if b.text.strip())


class LineFinder:
    """Finds, front to back, the file line holding each step's string (as 0.1.9 showed ``L12``).

    Both formats write one field per line, and the steps come in file order, so each string is
    looked for from where the previous one was found; one not found leaves the step without lines.
    """

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.cursor = 0

    def find(self, key: str, value: str) -> int | None:
        needles = {
            f'"{key}": {json.dumps(value)}',
            f'"{key}": {json.dumps(value, ensure_ascii=False)}',
        }
        for index in range(self.cursor, len(self.lines)):
            if any(n in self.lines[index] for n in needles):
                self.cursor = index + 1
                return index + 1
        return None


def _span(found: list[int | None]) -> tuple[int, int] | None:
    known = [n for n in found if n is not None]
    return (min(known), max(known)) if known else None


def build_steps(view: TrajectoryView, finder: LineFinder | None = None) -> list[Step]:
    steps: list[Step] = []

    def locate(key: str, value: str) -> int | None:
        return finder.find(key, value) if finder is not None else None

    def flush(blocks: list[BlockView]) -> Step:
        step = Step("asst", blocks=blocks, lines=_span([locate("text", b.text) for b in blocks]))
        steps.append(step)
        return step

    for turn in view.turns:
        line = locate("input", turn.input)
        if turn.input.strip():
            steps.append(Step("user", text=turn.input.strip(), lines=_span([line])))
        pending: list[BlockView] = []
        anchor: Step | None = None
        for block in turn.blocks:
            if block.tool is None:
                pending.append(block)
                continue
            if pending:
                anchor, pending = flush(pending), []
            tool_line = locate("id", block.tool.id)
            if anchor is None:
                anchor = Step("asst", lines=_span([tool_line]))  # the turn began with tool calls
                steps.append(anchor)
            anchor.tools.append(block.tool)
            if block.tool.subagent is not None:
                anchor.children.extend(build_steps(block.tool.subagent, finder))
        if pending:
            flush(pending)
    return steps


def line_range(step: Step) -> str:
    if step.lines is None:
        return "L?"
    first, last = step.lines
    return f"L{first}" if first == last else f"L{first}-L{last}"


def count(steps: Sequence[Step]) -> int:
    return sum(1 + count(s.children) for s in steps)


def parse_path(text: str) -> tuple[int, ...]:
    parts = text.strip().strip("[]").split("/")
    if not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"invalid step {text!r}: expected numbers separated by '/', like 12/3")
    return tuple(int(p) for p in parts)


def parse_selectors(selectors: Sequence[str]) -> list[tuple[int, ...]]:
    """``7``, ``7-10``, ``12/3``, ``12/3-5`` and comma lists, in order, without repeats."""
    found: list[tuple[int, ...]] = []
    for selector in selectors:
        for item in filter(None, (s.strip() for s in selector.split(","))):
            if "-" in item:
                start_text, end_text = item.split("-", 1)
                start = parse_path(start_text)
                end = parse_path(end_text)
                if len(end) == 1 and len(start) > 1:
                    end = start[:-1] + end
                if start[:-1] != end[:-1]:
                    raise ValueError(f"invalid range {item!r}: both ends need the same parent step")
                lo, hi = sorted((start[-1], end[-1]))
                addresses = [start[:-1] + (i,) for i in range(lo, hi + 1)]
            else:
                addresses = [parse_path(item)]
            found.extend(a for a in addresses if a not in found)
    return found


def resolve(steps: Sequence[Step], address: tuple[int, ...]) -> Step:
    current: Sequence[Step] = steps
    for depth, index in enumerate(address):
        label = "/".join(map(str, address[: depth + 1]))
        if index >= len(current):
            raise ValueError(f"there is no step [{label}] ({len(current)} steps at that level)")
        step = current[index]
        if depth == len(address) - 1:
            return step
        if not step.children:
            raise ValueError(f"step [{label}] has no nested steps")
        current = step.children
    raise ValueError("an empty step address")


def _k(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def _duration(ms: int) -> str:
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60}m"


def _preview(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _tools_of(view: TrajectoryView) -> Counter[str]:
    counts: Counter[str] = Counter()
    for turn in view.turns:
        for tool in turn.tools:
            counts[tool.name or "?"] += 1
            if tool.subagent is not None:
                counts.update(_tools_of(tool.subagent))
    return counts


def _tool_errors(view: TrajectoryView) -> int:
    return sum(
        int(tool.is_error) + (_tool_errors(tool.subagent) if tool.subagent else 0)
        for turn in view.turns
        for tool in turn.tools
    )


def summary(view: TrajectoryView, steps: Sequence[Step]) -> list[str]:
    usage: UsageView = view.total_usage
    top, total = len(steps), count(steps)
    parts = [f"Agent: {view.agent or '?'}"]
    parts += [f"Model: {view.model}"] if view.model else []
    parts += [f"Turns: {len(view.turns)}"]
    parts += [f"Steps: {top}" if top == total else f"Steps: {top} top-level / {total} total"]
    parts += [f"In: {_k(usage.input_tokens)}", f"Out: {_k(usage.output_tokens)}"]
    parts += [f"Duration: {_duration(view.duration_ms)}"] if view.duration_ms else []
    parts += [f"Cost: ${usage.cost_usd:.4f}"] if usage.cost_usd else []
    errors = _tool_errors(view)
    parts += [f"Tool errors: {errors}"] if errors else []
    tools = _tools_of(view)
    listed = ", ".join(f"{n}={c}" for n, c in sorted(tools.items(), key=lambda i: (-i[1], i[0])))
    return [" | ".join(parts), f"Tool usage: {listed or 'none'}"]


def overview(
    steps: Sequence[Step], width: int, recursive: bool, prefix: tuple[int, ...] = ()
) -> list[str]:
    lines = []
    indent = "  " * len(prefix)
    for i, step in enumerate(steps):
        address = (*prefix, i)
        label = "[" + "/".join(map(str, address)) + "]"
        content = step.content
        where = line_range(step)
        line = f'{indent}{label} {step.kind}: "{_preview(content, width)}" ({_k(len(content))}c, {where})'
        if not content and step.tools:
            line = f"{indent}{label} {step.kind}: (tool calls only, {where})"
        if step.tools:
            names = ", ".join(t.name for t in step.tools[:4]) + (
                ", …" if len(step.tools) > 4 else ""
            )
            line += f" tools: {names}"
        if any(b.kind == "thinking" for b in step.blocks):
            line += " +thinking"
        if step.children:
            line += f" [nested steps: {count(step.children)}]"
        lines.append(line)
        if recursive and step.children:
            lines.extend(overview(step.children, width, True, address))
    return lines


def detail(steps: Sequence[Step], address: tuple[int, ...]) -> list[str]:
    step = resolve(steps, address)
    label = "[" + "/".join(map(str, address)) + "]"
    lines = [f"{label} in the file: {line_range(step)}", f"{label} {step.kind}:"]
    if step.kind == "user":
        return lines + [step.text]
    for block in step.blocks:
        lines += ["Thinking:" if block.kind == "thinking" else "Text:", block.text, ""]
    for tool in step.tools:
        status = " (error)" if tool.is_error else ""
        lines.append(f"Tool {tool.name}{status} input:")
        lines.append(json.dumps(tool.input, indent=2, ensure_ascii=False))
        for change in edit_diffs(tool.name, tool.input):
            lines += [f"Diff of {change.path}:", change.diff.rstrip("\n")]
        lines += ["Output:", tool.output if tool.output is not None else "(none)", ""]
    if step.children:
        lines.append(f"Nested steps: {count(step.children)}")
        lines.extend(overview(step.children, 60, False, address))
    return lines


def load(target: str, ns: argparse.Namespace) -> tuple[Path, TrajectoryView]:
    path = Path(target)
    if path.is_dir() and (path / "trajectory.json").is_file():
        path = path / "trajectory.json"
    if path.is_file():
        return path, load_view(path)
    if "/" in target or target.endswith(".json"):
        raise TrajectoryFormatError(f"no such file: {target}")
    sdir, _ = find_session(Store(data_dir_of(ns)), target)
    return sdir.trajectory_path, load_view(sdir.trajectory_path)


def traj(ns: argparse.Namespace) -> int:
    try:
        path, view = load(ns.target, ns)
        addresses = parse_selectors(ns.step or [])
        steps = build_steps(view, LineFinder(path.read_text(encoding="utf-8")))
        lines = [f"Source: {path} ({view.format} format)", *summary(view, steps), ""]
        if addresses:
            for address in addresses:
                lines += detail(steps, address) + [""]
        else:
            lines += overview(steps, ns.chars, ns.recursive)
    except (TrajectoryFormatError, ValueError, LookupError) as exc:
        return fail(str(exc), EXIT_USAGE)
    sys.stdout.write("\n".join(lines).rstrip("\n") + "\n")
    return EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="FILE|ID", help="a trajectory file, or a session id")
    p.add_argument("--recursive", "-r", action="store_true", help="include nested subagent steps")
    p.add_argument(
        "--step",
        "-s",
        action="append",
        metavar="SEL",
        help="full detail: 7, 7-10, 12/3 (repeatable)",
    )
    p.add_argument("--chars", type=int, default=60, help="preview width in the overview")
    add_data_dir(p)
    p.set_defaults(func=traj)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("traj", help="a compact, step-indexed view of a trajectory")
    add_arguments(p)


def main(argv: list[str] | None = None) -> int:
    """The ``caw-traj`` console script."""
    parser = argparse.ArgumentParser(prog="caw-traj", description=__doc__.split("\n")[0])
    add_arguments(parser)
    ns = parser.parse_args(argv)
    status: int = ns.func(ns)
    return status

"""The chart of docs/benchmarks.md: median per-turn latency per provider and column (matplotlib, the ``bench`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from harness import FLOOR, LIBRARY, OLD, PROVIDERS, SERVER, VARIANT_LABELS
from report import first_answer_comparison

COLORS = {FLOOR: "#9e9e9e", LIBRARY: "#4c78a8", SERVER: "#f58518", OLD: "#b279a2"}


def draw(results: dict[str, Any], path: Path) -> None:
    turns = results.get("turns") or {}
    if not turns:
        return
    fig, axes = plt.subplots(
        1, len(turns), figsize=(6.5 * len(turns), 4.8), squeeze=False, sharey=True
    )
    for ax, (latency, r) in zip(axes[0], turns.items(), strict=False):
        providers = list(r)
        keys = [
            k
            for k in (FLOOR, LIBRARY, SERVER, OLD)
            if any(k in r[p] and r[p][k]["summary"]["n"] for p in providers)
        ]
        width = 0.8 / max(len(keys), 1)
        for i, key in enumerate(keys):
            xs, med, err = [], [], []
            for j, provider in enumerate(providers):
                s = (r[provider].get(key) or {}).get("summary") or {}
                if s.get("n"):
                    xs.append(j + (i - (len(keys) - 1) / 2) * width)
                    med.append(s["median"])
                    err.append(max(0.0, s["p95"] - s["median"]))
            bars = ax.bar(
                xs,
                med,
                width,
                yerr=[[0] * len(err), err],
                capsize=3,
                color=COLORS[key],
                label=VARIANT_LABELS[key],
            )
            for bar, value, extra in zip(bars, med, err, strict=False):
                label = f"{value * 1000:.0f}" if value < 1 else f"{value:.1f}s"
                ax.annotate(label, (bar.get_x() + bar.get_width() / 2, value + extra), ha="center", va="bottom", fontsize=7,
                            xytext=(0, 2), textcoords="offset points")  # fmt: skip
        ax.set_xticks(range(len(providers)), providers)
        ax.set_yscale("log")
        ax.set_title(f"model time-to-first-token {float(latency) * 1000:.0f} ms")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].set_ylabel("seconds per turn (median; whisker: p95; log scale)\nbar labels in ms")
    axes[0][-1].legend(loc="upper left", fontsize=8)
    fig.suptitle(
        "Per-turn latency, turns 2..N of one conversation (real CLIs, scripted local model)"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# The first answer (phases.first_answer), next to the bare CLI and caw 0.1.9: one panel per
# provider, groups of bars per situation; a series keeps its colour across the groups.
FIRST_SERIES = {
    "floor": ("bare CLI (a new CLI process)", "#9e9e9e"),
    "old": ("caw 0.1.9 (a new CLI process every turn)", "#b279a2"),
    "server": ("caw-server", "#f58518"),
    "gap": ("caw-server: send 1 s after resume", "#4c78a8"),
    "no_standby": ("caw-server --standby 0", "#e45756"),
    "idle": ("caw-server beside idle sessions", "#54a24b"),
}


def _first_groups(results: dict[str, Any], provider: str) -> list[tuple[str, dict[str, float]]]:
    """(group label, {series: median}) for one provider; series without a figure are left out."""
    first = results.get("first") or {}
    compared = first_answer_comparison(results, provider)
    nc = (first.get("new_chat") or {}).get(provider) or {}
    idle = (first.get("idle") or {}).get(provider) or {}
    gap = compared["reopened_gap"][SERVER]
    groups = [
        ("new chat", {**_series(compared["new_chat"]), "no_standby": _med(nc.get("no_standby")),
                      "idle": _med(idle.get("new_chat"))}),
        ("reopened editor\n(resume -> answer)", {**_series(compared["reopened"]), "gap": gap}),
        ("warm turn", _series(compared["warm"])),
    ]  # fmt: skip
    return [(label, {k: v for k, v in bars.items() if v is not None}) for label, bars in groups]


def _series(cells: dict[str, float | None]) -> dict[str, float | None]:
    return {"floor": cells[FLOOR], "old": cells[OLD], "server": cells[SERVER]}


def _med(s: dict[str, Any] | None) -> float | None:
    return s["median"] if s and s.get("n") else None


def draw_first(results: dict[str, Any], path: Path) -> None:
    first = results.get("first") or {}
    providers = [p for p in PROVIDERS if (first.get("new_chat") or {}).get(p)]
    if not providers:
        return
    fig, axes = plt.subplots(
        1,
        len(providers),
        figsize=(max(5.2 * len(providers), 10.5), 5.4),
        squeeze=False,
        sharey=True,
    )
    seen: dict[str, Any] = {}
    for ax, provider in zip(axes[0], providers, strict=True):
        groups = _first_groups(results, provider)
        for j, (_, bars) in enumerate(groups):
            width = 0.8 / max(len(bars), 1)
            for i, (series, value) in enumerate(bars.items()):
                label, color = FIRST_SERIES[series]
                x = j + (i - (len(bars) - 1) / 2) * width
                seen[series] = ax.bar(x, value, width, color=color, label=label)
                text = f"{value * 1000:.0f}" if value < 1 else f"{value:.1f}s"
                ax.annotate(text, (x, value), ha="center", va="bottom", fontsize=7,
                            xytext=(0, 2), textcoords="offset points")  # fmt: skip
        ax.set_xticks(range(len(groups)), [label for label, _ in groups], fontsize=8)
        ax.set_yscale("log")
        ax.set_title(provider)
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].set_ylabel("seconds until the answer (median; log scale)\nbar labels in ms")
    order = [s for s in FIRST_SERIES if s in seen]
    sessions = {str(((first.get("idle") or {}).get(p) or {}).get("sessions")) for p in providers}
    labels = [FIRST_SERIES[s][0] for s in order]
    if "idle" in order and len(sessions) == 1:
        labels[order.index("idle")] = f"caw-server beside {sessions.pop()} idle sessions"
    fig.legend([seen[s] for s in order], labels, loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("The first answer: caw-server next to the bare CLI and caw 0.1.9\n"
                 "(real CLIs, scripted local model at 0 ms)", fontsize=11)  # fmt: skip
    fig.tight_layout(rect=(0, 0.08, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)

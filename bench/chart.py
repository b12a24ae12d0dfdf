"""The chart of docs/benchmarks.md: median per-turn latency per provider and column (matplotlib, the ``bench`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from harness import FLOOR, LIBRARY, OLD, SERVER, VARIANT_LABELS

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


# The first answer (phases.first_answer): bars per provider, against its warm turn.
FIRST_BARS = (
    ("new_chat", "warm", "warm turn", "#9e9e9e"),
    ("new_chat", "standby", "new chat", "#f58518"),
    ("new_chat", "no_standby", "new chat, --standby 0", "#e45756"),
    ("reopened", "send_after_gap", "reopened: send 1 s after resume", "#4c78a8"),
    ("reopened", "resume_to_answer", "reopened: resume -> answer", "#72b7b2"),
    ("idle", "new_chat", "new chat beside idle sessions", "#54a24b"),
)


def draw_first(results: dict[str, Any], path: Path) -> None:
    first = results.get("first") or {}
    providers = [p for p in (first.get("new_chat") or {}) if first["new_chat"][p]]
    if not providers:
        return
    fig, ax = plt.subplots(figsize=(11, 5.4))
    width = 0.8 / len(FIRST_BARS)
    for i, (phase, key, label, color) in enumerate(FIRST_BARS):
        xs, med = [], []
        for j, provider in enumerate(providers):
            s = ((first.get(phase) or {}).get(provider) or {}).get(key) or {}
            if s.get("n"):
                xs.append(j + (i - (len(FIRST_BARS) - 1) / 2) * width)
                med.append(s["median"])
        bars = ax.bar(xs, med, width, color=color, label=label)
        for bar, value in zip(bars, med, strict=False):
            text = f"{value * 1000:.0f}" if value < 1 else f"{value:.1f}s"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom", fontsize=7,
                        xytext=(0, 2), textcoords="offset points")  # fmt: skip
    ax.set_xticks(range(len(providers)), providers)
    ax.set_yscale("log")
    ax.set_ylabel("seconds (median; log scale)\nbar labels in ms")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, fontsize=8)
    ax.set_title("The first answer through caw-server (real CLIs, scripted local model at 0 ms)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)

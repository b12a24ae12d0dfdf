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

"""The PNG chart of a run, for docs/performance.md (matplotlib is a benchmark-only dependency)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

COLOURS = {"baseline": "#444444", "asgi-jwt": "#0f766e", "alternative": "#9ca3af", "limit": "#f59e0b"}
LEGEND = (
    ("asgi-jwt", "asgi-jwt"),
    ("alternative", "alternatives"),
    ("limit", "physical limit"),
    ("baseline", "bare app"),
)
TICKS = (0.5, 1, 1.25, 2, 5, 10, 20, 50, 100)


def render(document: dict[str, Any], path: Path) -> bool:
    """Draw both tables as horizontal bars of ratios; ``False`` when matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    requests = [entry for entry in document["rows"] if entry["kind"] == "request" and entry["ratio"]]
    verifies = [entry for entry in document["rows"] if entry["kind"] == "verify" and entry["ratio"]]
    height = 0.32 * (len(requests) + len(verifies)) + 2.5
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, height), gridspec_kw={"height_ratios": [max(len(requests), 1), max(len(verifies), 1)]}
    )
    _panel(top, requests, "Cost of one request, relative to a bare Starlette app (log scale)", targets=(1.0, 1.25))
    from matplotlib.patches import Patch

    legend = [Patch(color=COLOURS[group], label=label) for group, label in LEGEND]
    top.legend(handles=legend, loc="upper right", fontsize=8, frameon=False)
    _panel(bottom, verifies, "Verification alone, relative to the physical limit of the same algorithm", targets=(1.0,))
    machine = document["machine"]
    versions = document["versions"]
    figure.text(
        0.01,
        0.005,
        f"{machine['cpu']}, {machine['cores']} cores · Python {versions['python']}, starlette {versions['starlette']}, "
        f"PyJWT {versions['PyJWT']} · medians of {document['settings']['rounds']} paired rounds",
        fontsize=8,
        color="#555555",
    )
    figure.tight_layout(rect=(0, 0.02, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def _panel(axes: Any, entries: list[dict[str, Any]], title: str, *, targets: tuple[float, ...]) -> None:
    names = [entry["name"] for entry in entries][::-1]
    ratios = [entry["ratio"] for entry in entries][::-1]
    colours = [COLOURS.get(entry["group"], "#9ca3af") for entry in entries][::-1]
    axes.barh(names, ratios, color=colours)
    axes.set_xscale("log")
    axes.set_title(title, fontsize=11, loc="left")
    for target in targets:
        axes.axvline(target, color="#b91c1c" if target > 1 else "#444444", linewidth=0.8, linestyle="--")
    for index, ratio in enumerate(ratios):
        axes.text(ratio * 1.03, index, f"{ratio:.2f}×", va="center", fontsize=8)
    left, right = min([*ratios, 1.0]) * 0.8, max([*ratios, 1.0]) * 1.6
    axes.set_xlim(left=left, right=right)
    axes.set_xticks([tick for tick in TICKS if left <= tick <= right])
    axes.set_xticklabels([f"{tick:g}×" for tick in TICKS if left <= tick <= right])
    axes.minorticks_off()
    axes.tick_params(axis="y", labelsize=8)
    axes.tick_params(axis="x", labelsize=8)
    axes.grid(axis="x", which="both", color="#eeeeee")
    axes.set_axisbelow(True)

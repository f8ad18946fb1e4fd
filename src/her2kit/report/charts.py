"""Charts for the lab report, drawn with matplotlib into PNG bytes.

Uses the non-interactive Agg backend through the object API (no pyplot global
state), so reports can be built in threads and in the web service.
"""

from __future__ import annotations

import io

from her2kit.guideline.results import ClassifyResult

__all__ = ["ihc_class_chart", "ish_ratio_histogram"]

_CLASSES = [
    ("complete_intense", "complete intense", "#8b0000"),
    ("complete_weak_moderate", "complete weak–moderate", "#d2691e"),
    ("incomplete_moderate_intense", "incomplete moderate–intense", "#daa520"),
    ("incomplete_faint", "incomplete faint", "#c8b88a"),
]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def ihc_class_chart(result: ClassifyResult) -> bytes | None:
    """Bar chart of the percent of tumour cells per membrane class, with the 10 % line.

    Returns ``None`` when the IHC result has no class percentages (manual score).
    """
    from matplotlib.figure import Figure

    ihc = result.ihc
    if ihc is None or ihc.percent is None:
        return None
    cut = ihc.thresholds["cell_fraction_pct"]
    fig = Figure(figsize=(6.0, 2.4))
    ax = fig.add_subplot()
    labels = [label for _, label, _ in _CLASSES]
    values = [ihc.percent[key] for key, _, _ in _CLASSES]
    bars = ax.barh(labels, values, color=[c for _, _, c in _CLASSES])
    ax.axvline(cut, color="black", linestyle="--", linewidth=1)
    ax.text(cut, 1.01, f"{cut:g}% threshold", fontsize=8, ha="center", va="bottom",
            transform=ax.get_xaxis_transform())
    for bar, v in zip(bars, values, strict=True):
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, f"{v:.1f}%",
                va="center", fontsize=8)
    ax.set_xlim(0, max(100.0, max(values) + 10))
    ax.invert_yaxis()
    ax.set_xlabel("percent of invasive tumour cells")
    ax.set_title(f"HER2 IHC membrane classes → score {ihc.score}", fontsize=10, pad=14)
    return _png(fig)


def ish_ratio_histogram(per_nucleus: list[list[int]], *, ratio_cut: float = 2.0) -> bytes | None:
    """Histogram of per-nucleus HER2/CEP17 ratios, so heterogeneity is visible.

    Returns ``None`` without per-nucleus dual-probe counts.
    """
    from matplotlib.figure import Figure

    ratios = [h / c for h, c in per_nucleus if c > 0] if per_nucleus else []
    if not ratios:
        return None
    fig = Figure(figsize=(6.0, 2.4))
    ax = fig.add_subplot()
    top = max(max(ratios), ratio_cut * 2)
    bins = [i * 0.25 for i in range(int(top / 0.25) + 2)]
    ax.hist(ratios, bins=bins, color="#4a6fa5", edgecolor="white")
    ax.axvline(ratio_cut, color="black", linestyle="--", linewidth=1)
    ax.text(ratio_cut, ax.get_ylim()[1] * 0.9, f" ratio {ratio_cut:g}", fontsize=8)
    ax.set_xlabel("HER2/CEP17 ratio per nucleus")
    ax.set_ylabel("nuclei")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts are whole nuclei
    ax.set_title(f"Per-nucleus ratios ({len(ratios)} nuclei)", fontsize=10)
    return _png(fig)

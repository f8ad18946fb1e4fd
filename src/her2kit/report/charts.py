"""Charts for the lab report, drawn with matplotlib into PNG bytes.

Uses the non-interactive Agg backend through the object API (no pyplot global
state), so reports can be built in threads and in the web service.
"""

from __future__ import annotations

import io

from her2kit.guideline.results import ClassifyResult
from her2kit.report.legend import IHC_LEGEND

__all__ = ["CHART_FONT", "ihc_class_chart", "ihc_class_figure", "ish_ratio_figure",
           "ish_ratio_histogram"]

# One font for every chart (the PDF's body font, bundled with matplotlib), one size for
# labels and one for titles, set on each text (rcParams are global: not thread-safe).
CHART_FONT = "DejaVu Sans"
_TEXT = {"fontfamily": CHART_FONT, "fontsize": 9}
_TITLE = {"fontfamily": CHART_FONT, "fontsize": 10}

# The class colours are the overlay's, so a class has one colour in chart and overlay.
_CLASSES = [(key, words, tuple(c / 255 for c in rgb)) for key, words, rgb in IHC_LEGEND
            if key != "not_counted"]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _figure(size: tuple[float, float]):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    ax = fig.add_subplot()
    ax.tick_params(labelsize=_TEXT["fontsize"], labelfontfamily=CHART_FONT)
    return fig, ax


def ihc_class_chart(result: ClassifyResult) -> bytes | None:
    """Bar chart of the percent of tumour cells per membrane class (PNG bytes), or ``None``."""
    fig = ihc_class_figure(result)
    return None if fig is None else _png(fig)


def ish_ratio_histogram(per_nucleus: list[list[int]], *, ratio_cut: float = 2.0) -> bytes | None:
    """Histogram of per-nucleus HER2/CEP17 ratios (PNG bytes), or ``None``."""
    fig = ish_ratio_figure(per_nucleus, ratio_cut=ratio_cut)
    return None if fig is None else _png(fig)


def ihc_class_figure(result: ClassifyResult):
    """Bar chart of the percent of tumour cells per membrane class, with the 10 % line.

    Returns ``None`` when the IHC result has no class percentages (manual score).
    """
    ihc = result.ihc
    if ihc is None or ihc.percent is None:
        return None
    cut = ihc.thresholds["cell_fraction_pct"]
    fig, ax = _figure((6.0, 2.7))
    labels = [label for _, label, _ in _CLASSES]
    # "No staining" is what the four staining classes leave of 100 %.
    stained = [ihc.percent[key] for key, _, _ in _CLASSES if key != "none"]
    values = [*stained, max(0.0, 100.0 - sum(stained))]
    bars = ax.barh(labels, values, color=[c for _, _, c in _CLASSES], edgecolor="black",
                   linewidth=0.5)
    ax.axvline(cut, color="black", linestyle="--", linewidth=1)
    ax.text(cut, 1.01, f"{cut:g}% threshold", ha="center", va="bottom", **_TEXT,
            transform=ax.get_xaxis_transform())
    for bar, v in zip(bars, values, strict=True):
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, f"{v:.1f}%",
                va="center", **_TEXT)
    ax.set_xlim(0, max(100.0, max(values) + 10))
    ax.invert_yaxis()
    ax.set_xlabel("percent of invasive tumour cells", **_TEXT)
    ax.set_title(f"HER2 IHC membrane classes → score {ihc.score}", pad=14, **_TITLE)
    return fig


def ish_ratio_figure(per_nucleus: list[list[int]], *, ratio_cut: float = 2.0):
    """Histogram of per-nucleus HER2/CEP17 ratios, so heterogeneity is visible.

    Returns ``None`` without per-nucleus dual-probe counts.
    """
    ratios = [h / c for h, c in per_nucleus if c > 0] if per_nucleus else []
    if not ratios:
        return None
    fig, ax = _figure((6.0, 2.4))
    top = max(max(ratios), ratio_cut * 2)
    bins = [i * 0.25 for i in range(int(top / 0.25) + 2)]
    ax.hist(ratios, bins=bins, color="#4a6fa5", edgecolor="white")
    ax.axvline(ratio_cut, color="black", linestyle="--", linewidth=1)
    ax.text(ratio_cut, ax.get_ylim()[1] * 0.9, f" ratio {ratio_cut:g}", **_TEXT)
    ax.set_xlabel("HER2/CEP17 ratio per nucleus", **_TEXT)
    ax.set_ylabel("number of nuclei", **_TEXT)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts are whole nuclei
    ax.set_title(f"Per-nucleus ratios ({len(ratios)} nuclei)", **_TITLE)
    return fig

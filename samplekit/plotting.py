"""Matplotlib with a CJK font shipped by the ``mplfonts`` package (Noto Sans CJK SC, OFL).

The font file is registered from the installed package — nothing is downloaded, nothing is written
into matplotlib's install (``mplfonts init`` is never run).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib import font_manager

CJK_FAMILY = "Noto Sans CJK SC"


@cache
def cjk_font_path() -> Path:
    """Path of the Noto Sans CJK SC font file inside the installed ``mplfonts`` package."""
    import mplfonts

    root = Path(mplfonts.__file__).resolve().parent
    candidates = sorted(root.rglob("NotoSansCJKsc-*.otf")) + sorted(root.rglob("NotoSansCJK*.ttc"))
    candidates += sorted(p for p in root.rglob("*.[ot]t[fc]") if "CJK" in p.name and "SC" in p.name)
    regular = [p for p in candidates if "Regular" in p.name] or candidates
    if not regular:
        raise RuntimeError(
            f"no Noto Sans CJK SC font found under {root}; reinstall the 'mplfonts' package"
        )
    return regular[0]


@cache
def setup_fonts() -> str:
    """Register the CJK font and make it the first sans-serif family. Returns the family name."""
    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    family = font_manager.FontProperties(fname=str(path)).get_name()
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False  # the CJK font lacks U+2212
    plt.rcParams["svg.hashsalt"] = "samplekit"
    plt.rcParams["figure.dpi"] = 100
    return family


def new_figure(width: float = 8.0, height: float = 4.5, **kwargs):
    """A figure and axes with the CJK font set up."""
    setup_fonts()
    return plt.subplots(figsize=(width, height), **kwargs)


def save_figure(fig, path: str | Path) -> Path:
    """Save a figure as PNG with fixed metadata (reproducible bytes) and close it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return p

"""Chinese labels render with the CJK font shipped by mplfonts: no missing-glyph warnings."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

from samplekit import reference
from samplekit.demo import demo_cities
from samplekit.plotting import CJK_FAMILY, cjk_font_path, new_figure, save_figure, setup_fonts

LABELS = [
    "城市",
    "行业门类",
    "企业规模",
    "所有制类型",
    "样本量",
    "抽样框",
    "失业预警",
    "岗位流失率",
    "用工景气指数",
    "登记失业率",
    "红色预警",
    "橙色",
    "黄色",
    "蓝色",
    "预测区间",
    "置信区间",
    "附表二",
    "减员人数",
    "月度失业动态监测分析报告",
    "季通报",
    "−5%",
    *reference.SIZE_CLASSES_ZH.values(),
    *reference.OWNERSHIP_ZH.values(),
    *reference.section_names().values(),
    *reference.reduction_types()["name_zh"],
    *reference.reason_codes()["name_zh"],
]


def test_font_comes_from_the_installed_package():
    path = cjk_font_path()
    assert path.exists() and "mplfonts" in str(path)
    assert setup_fonts() == CJK_FAMILY
    assert matplotlib.rcParams["font.sans-serif"][0] == CJK_FAMILY


def test_all_labels_render_without_missing_glyphs(tmp_path):
    labels = LABELS + demo_cities()["city"].tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font" would fail here
        fig, ax = new_figure(12, 8)
        for i, label in enumerate(labels):
            ax.text(0.01 + (i % 4) * 0.25, 1 - (i // 4) * 0.03, label, fontsize=7)
        ax.set_title("图表中文标签测试:广州、深圳、东莞")
        ax.set_xlabel("季度")
        ax.set_ylabel("人数(万人)")
        ax.plot([0, 1], [-1, 1], label="图例:负值 −1")
        ax.legend()
        path = save_figure(fig, tmp_path / "labels.png")
    assert path.stat().st_size > 10_000

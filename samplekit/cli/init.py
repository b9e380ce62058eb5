"""CLI: ``samplekit init`` (a params file for a new province) and ``samplekit demo-register``
(a synthetic rehearsal register for it).

``init`` starts from the demo params (their parsed values, never their comments) and removes
everything that belongs to the demo province: city names (tilt, pillar industries, the demo
shock), the province's own task table and plan, the demo-only sections (``frame.demo``,
``monthly.demo``). Every path is absolute and points at the user's files or folder; what is
still missing goes into a checklist (``检查清单.md``). The written file is scanned for every
demo city name before it is kept.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from samplekit.errors import InputError

PARAMS_NAME = "params.yaml"
CHECKLIST_NAME = "检查清单.md"
#: Rule sources that are the demo province's own documents (never copied).
_DEMO_SOURCES = {"province_plan_2013"}


def register(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser(
        "init",
        help="为新省份建立参数文件和工作目录",
        description="根据本省城市表(及企业名录)写出参数文件 params.yaml、工作目录和检查清单:"
        "不含演示省份的任何地名,所有路径指向您的文件,演示专用设置不写入。",
    )
    init.add_argument("dir", type=Path, help="工作目录(新建或为空)")
    init.add_argument("--cities", type=Path, required=True, help="本省城市表(CSV/XLSX)")
    init.add_argument("--register", type=Path, default=None, help="本省企业名录(可稍后填写)")
    init.add_argument("--province", default=None, help="省份名称,如 浙江省(默认:本省)")
    init.add_argument(
        "--total",
        type=int,
        default=None,
        help="样本总量(默认:不少于现有监测企业数和各市最低样本数之和)",
    )
    init.add_argument("--force", action="store_true", help="覆盖已有的 params.yaml")
    init.set_defaults(handler=_init)

    demo = sub.add_parser(
        "demo-register",
        help="为新省份生成合成演练名录(标明为合成数据)",
        description="按参数文件的城市表生成可复现的合成企业名录,用于在拿到真实名录前演练整个流程;"
        "文件名和每份输出都标明为合成数据。",
    )
    demo.add_argument("--params", type=Path, required=True, help="参数文件")
    demo.add_argument(
        "--out", type=Path, default=None, help="输出文件(默认:参数文件旁的 合成演练名录.csv)"
    )
    demo.add_argument("--units", type=int, default=20_000, help="企业数(默认 20000)")
    demo.set_defaults(handler=_demo_register)


# ------------------------------------------------------------------------------ init
def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def _floors(cities: pd.DataFrame, rule: list[dict[str, Any]], municipality: int) -> int:
    """Sum over cities of each city's lower bound: the population-based minimum sample (the
    rule's bands) or its existing panel, whichever is larger."""
    total = 0
    bands = sorted(rule, key=lambda b: -float(b["min_population"]))
    for row in cities.itertuples():
        if bool(getattr(row, "municipality", False)):
            floor = municipality
        else:
            floor = next(int(b["minimum"]) for b in bands if row.population >= b["min_population"])
        total += max(floor, int(row.existing_panel))
    return total


def province_params(
    cities: pd.DataFrame,
    *,
    name: str,
    province: str,
    cities_path: Path,
    register_path: Path | None,
    store_path: Path,
    total: int | None = None,
    today: dt.date | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The params of a new province (a dict in the params layout) and its checklist lines."""
    from samplekit.params import load_params

    demo = load_params(validate=False).data
    data: dict[str, Any] = {}
    today = today or dt.date.today()
    last = today.replace(day=1) - dt.timedelta(days=1)
    q_end = last.month - (last.month % 3) if last.month % 3 else last.month
    q_year = last.year if q_end else last.year - 1
    q_end = q_end or 12
    data["name"] = name
    data["title"] = f"{province}企业用工定点监测"
    data["seed"] = int(demo["seed"])
    data["period"] = f"{last.year}-{last.month:02d}"
    data["quarter"] = f"{q_year}Q{q_end // 3}"
    data["demo"] = False
    data["province"] = {"name": province, "cities": str(cities_path)}
    data["frame"] = {"path": None if register_path is None else str(register_path)}
    data["panel"] = {"path": None}

    alloc = copy.deepcopy(demo["allocation"])
    for key in ("tilt", "compare_with"):
        alloc.pop(key, None)
    alloc["city_totals"] = None
    alloc["sections"] = {"top": int(alloc.get("sections", {}).get("top", 10))}
    alloc["rules"] = [r for r in alloc.get("rules", []) if r.get("source") not in _DEMO_SOURCES]
    floors = alloc["floors"]
    # A quarter above the cities' lower bounds leaves room for the score formula and the rules.
    need = _floors(cities, floors["by_population"], int(floors["municipality"]))
    alloc["total"] = int(total) if total is not None else _round_up(1.25 * need, 100)
    monthly = alloc["monthly"]
    monthly["cities"] = None
    existing_m = (
        int(cities["existing_monthly"].sum()) if "existing_monthly" in cities.columns else 0
    )
    n_monthly = int((cities["existing_monthly"] > 0).sum()) if existing_m else len(cities)
    monthly["total"] = _round_up(max(existing_m, 30 * n_monthly), 10)
    data["allocation"] = alloc
    data["selection"] = copy.deepcopy(demo["selection"])
    mon = copy.deepcopy(demo["monthly"])
    mon.pop("demo", None)
    mon["store"] = str(store_path)
    data["monthly"] = mon
    warn = copy.deepcopy(demo["warning"])
    warn["city_indicators"] = None
    data["warning"] = warn
    data["evaluation"] = copy.deepcopy(demo["evaluation"])

    todo = []
    params_file = store_path.parent.parent / PARAMS_NAME
    if register_path is None:
        todo.append(
            f"企业名录:参数 frame.path 为空。拿到名录后先 `samplekit frame check 名录文件 "
            f"--params {params_file}` 检查,再把路径填入 frame.path。"
            "未拿到前可用 `samplekit demo-register` 生成合成演练名录(输出会标明为合成)。"
        )
    synthetic = [c for c in str(cities.get("synthetic", pd.Series([""])).iloc[0]).split(";") if c]
    if synthetic:
        todo.append(f"城市表中以下列标为合成数据,请换成统计年鉴数据:{'、'.join(synthetic)}。")
    todo.append(
        f"省份名称:province.name = {province}"
        + ("(请改为本省名称)。" if province == "本省" else ",请核对。")
    )
    todo.append(
        f"样本总量:allocation.total = {data['allocation']['total']}(各市最低样本数与现有监测"
        "企业数之和再加四分之一),请按本省实施方案核定;月度子样本 allocation.monthly.total = "
        f"{monthly['total']}。"
    )
    todo.append(
        "现有监测样本:panel.path 为空时取名录的 in_panel 列;如另有名单(enterprise_id 列)请填写。"
    )
    todo.append(
        f"月度监测数据库:monthly.store = {store_path}(尚不存在)。抽样后用 "
        f"`samplekit select --params ... --store {store_path}` 写入样本名单,"
        "再用 `samplekit ingest` 导入各月报表。"
    )
    todo.append(
        "城市预警指标表:warning.city_indicators 为空(登记失业率、失业保险基金可支撑月数等),"
        "预警报告(04、05)需要它。"
    )
    todo.append(f"报告期:period = {data['period']},quarter = {data['quarter']},请按需要修改。")
    todo.append(
        "预警线(warning.indicators.*.lines)、审核阈值(monthly.validation)与报送时限"
        "(monthly.calendar)沿用示例取值,请按本省文件核对。"
    )
    todo.append(
        "只想先用合成数据把流程走一遍:在参数文件顶层把 demo 改为 true"
        "(所有报告、表格和文档都会标明“合成演示数据”)。"
    )
    return data, todo


def demo_city_names() -> set[str]:
    """Names of the demo province and its cities (none may appear in a new province's files)."""
    from samplekit.demo import demo_cities

    names = set(demo_cities()["city"].astype(str))
    return names | {"广东"}


def _init(args: argparse.Namespace) -> int:
    from samplekit.cities import load_cities
    from samplekit.params import load_params

    folder: Path = args.dir.expanduser().resolve()
    target = folder / PARAMS_NAME
    if target.exists() and not args.force:
        raise InputError(f"{target} 已存在;如要覆盖请加 --force")
    cities_path = args.cities.expanduser().resolve()
    cities = load_cities(cities_path)
    register_path = None if args.register is None else args.register.expanduser().resolve()
    if register_path is not None and not register_path.is_file():
        raise InputError(f"--register {register_path}: 文件不存在")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "数据").mkdir(exist_ok=True)
    (folder / "报告").mkdir(exist_ok=True)
    data, todo = province_params(
        cities,
        name=folder.name,
        province=args.province or "本省",
        cities_path=cities_path,
        register_path=register_path,
        store_path=folder / "数据" / "monthly.duckdb",
        total=args.total,
    )
    head = (
        f"# {data['title']}:由 samplekit init 生成。仍需补充的内容见 {CHECKLIST_NAME}。\n"
        "# 所有路径为绝对路径;demo: false 表示任何输入缺失时都不会改用合成演示数据。\n"
    )
    text = head + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    own = set(cities["city"].astype(str))
    left = sorted(n for n in demo_city_names() - own if n in text)
    if left:  # pragma: no cover - a demo value this module failed to remove
        raise InputError(f"内部错误:生成的参数文件仍含演示省份地名 {'、'.join(left)}")
    target.write_text(text, encoding="utf-8")
    load_params(target)  # the written file must load (every section validated)
    lines = [f"# {data['title']}:检查清单", "", f"参数文件:`{target}`", ""]
    lines += [f"{i}. {t}" for i, t in enumerate(todo, start=1)]
    lines += [
        "",
        "准备好后:`samplekit run --params " + str(target) + " --out " + str(folder / "报告") + "`",
    ]
    (folder / CHECKLIST_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"已写入 {target}({len(cities)} 个城市)和 {folder / CHECKLIST_NAME}。")
    print("仍需补充:")
    for i, t in enumerate(todo, start=1):
        print(f"  {i}. {t}")
    return 0


# ------------------------------------------------------------------------------ demo-register
def _demo_register(args: argparse.Namespace) -> int:
    from samplekit import jobs
    from samplekit.demo import generate_register
    from samplekit.io import write_csv
    from samplekit.params import load_params

    params = load_params(args.params)
    if args.units < 1000:
        raise InputError(f"--units {args.units}: 至少 1000 家")
    table = jobs.cities(params)
    seed = int(params.get("seed", 2013))
    frame = generate_register(table, units=args.units, seed=seed)
    out = args.out or params.path.parent / "合成演练名录.csv"
    write_csv(frame, out, excel=False)
    print(
        f"已写入合成演练名录 {out}({len(frame):,} 家企业,种子 {seed};全部为合成数据,不是真实企业)。"
    )
    print("使用方法:在参数文件中设")
    print(
        f"  frame:\n    path: {out.resolve()}\n    synthetic: true   # 所有输出标明名录为合成数据"
    )
    return 0

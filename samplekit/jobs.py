"""The job layer: a params file in, the inputs and results of every step out.

This is the only module that resolves the paths a params file names, decides that a null path
means the embedded demo (:func:`uses_demo`), and caches slow results (through
:mod:`samplekit.cache`, keyed by content). Domain modules never read files or params; the CLI and
the notebooks call the functions here and then the domain writers.

The chain, with the store in the middle::

    register ──► allocation ──► selection ──► store: panel of record (windows)
                                                 │
                        monthly reports ──► store: reports ──► tables / estimates ──► warning

Only :func:`allocation` and :func:`selection` run the design chain. Every later step reads the
panel in force for each month back from the store (:func:`membership`), never re-derives it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd

from samplekit.cache import cached_dir, cached_file, cached_object, content_key
from samplekit.errors import InputError
from samplekit.params import Params

#: Inputs that fall back to the embedded demo when their params key is null.
DemoInput = Literal["frame", "store", "city_indicators"]
_DEMO_KEYS: dict[str, str] = {
    "frame": "frame.path",
    "store": "monthly.store",
    "city_indicators": "warning.city_indicators",
}
#: What each cached result depends on (top-level params sections; files are always hashed).
_REGISTER_SECTIONS = ("province", "frame")
_DESIGN_SECTIONS = ("seed", "province", "frame", "panel", "allocation", "selection")
_STORE_SECTIONS = (*_DESIGN_SECTIONS, "monthly", "demo")
#: What each demo input stands in for (messages).
_DEMO_WHAT: dict[str, str] = {
    "frame": "企业名录(抽样框)",
    "store": "月度监测数据库(samplekit select --store 写入样本名单后建立)",
    "city_indicators": "城市预警指标表",
}


def is_demo_province(params: Params) -> bool:
    """True when ``province.cities`` is the embedded demo city table (the demo job)."""
    from samplekit.demo.province import demo_cities_path

    path = params.path_of("province.cities", None)
    return path is not None and path.resolve() == demo_cities_path().resolve()


def demo_allowed(params: Params) -> bool:
    """May a null input path fall back to synthetic demo data?

    The top-level key ``demo`` decides when present (``demo: true`` = a rehearsal on synthetic
    data, marked in every output; ``demo: false`` = never). Absent, only the demo province (its
    committed city table) gets the demo data: a new province must opt in explicitly.
    """
    flag = params.get("demo", None)
    if flag is not None:
        return bool(flag)
    return is_demo_province(params)


def uses_demo(params: Params, what: DemoInput) -> bool:
    """True when ``what`` comes from the embedded demo (its params key is null or absent).

    The one place that decides it: every loader below asks here. A null key of a params file
    that may not use demo data (:func:`demo_allowed`) is refused with the key named, so a real
    run never gets synthetic data silently.

    Raises
    ------
    ParamsError
        The key is null and the params file neither is the demo nor says ``demo: true``.
    """
    key = _DEMO_KEYS[what]
    if params.get(key, None) is not None:
        return False
    if not demo_allowed(params):
        from samplekit.errors import ParamsError

        raise ParamsError(
            f"{params.path}: 参数 '{key}' 为空,但本参数文件不是演示省份,不会自动改用合成演示数据。"
            f"请在 '{key}' 填写{_DEMO_WHAT[what]}的文件路径;若只是用合成数据演练,"
            "请在参数文件顶层写 demo: true(所有输出都会标明“合成演示数据”)"
        )
    return True


def _null_demo(params: Params, what: DemoInput) -> bool:
    """``uses_demo`` without refusing (for notes about what a job uses)."""
    return params.get(_DEMO_KEYS[what], None) is None and demo_allowed(params)


def _history(params: Params, table: pd.DataFrame) -> Any:
    """The demo-history settings, with the demo shock moved onto this province's cities.

    The default shock names cities of the demo province; a rehearsal for another province puts
    it on the first cities of its own table, so no demo city name reaches its outputs.
    """
    from dataclasses import replace

    from samplekit.demo import HistorySettings

    settings = HistorySettings.from_params(params)
    shock = settings.shock
    names = list(table["city"].astype(str))
    if shock is not None and not set(shock.cities) <= set(names):
        shock = replace(shock, cities=tuple(names[: min(3, len(names))]))
        settings = replace(settings, shock=shock)
    return settings


def _network_demo(table: pd.DataFrame, shock: Any, *, demo_province: bool) -> Any:
    """The demo network's planted problems: the demo's own cities, or the last cities of a
    rehearsal province's table (late files, missing reports, missing analysis reports)."""
    from samplekit.demo.network import NetworkDemoSettings

    events = tuple(shock.cities) if shock else None
    if demo_province:
        return NetworkDemoSettings(event_cities=events or NetworkDemoSettings().event_cities)
    names = tuple(table["city"].astype(str))
    last = names[-3:] if len(names) >= 3 else names
    return NetworkDemoSettings(
        late_cities=last[-2:],
        missing_cities=(last[0], last[-1]),
        analysis_late=last[-2:-1] or last,
        analysis_missing=last[:1],
        event_cities=events or names[:3],
    )


# ------------------------------------------------------------------------------ inputs
def cities(params: Params) -> pd.DataFrame:
    """The validated city table named by ``province.cities``."""
    from samplekit.cities import load_cities

    return load_cities(params.path_of("province.cities"))


def register(params: Params, *, city_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The classified register: ``frame.path``, or the seeded demo register (cached)."""
    from samplekit.frame import load_frame

    table = cities(params) if city_table is None else city_table
    if not uses_demo(params, "frame"):
        return load_frame(
            params.path_of("frame.path"), cities=table["city"], counties=declared_counties(params)
        )
    from samplekit.demo import generate_register

    units = int(params.get("frame.demo.units", 300_000))
    seed = int(params.get("frame.demo.seed", 2013))

    def build(path: Path) -> None:
        generate_register(table, units=units, seed=seed).to_parquet(path, index=False)

    key = content_key("demo_register", params=params, sections=_REGISTER_SECTIONS)
    return pd.read_parquet(cached_file(key, ".parquet", build))


def inputs(params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(cities, frame)``: the city table and the register with ``panel.path`` applied.

    ``panel.path`` names an optional list of existing panel members (``enterprise_id``, optional
    ``in_monthly``) that overrides the register's ``in_panel`` column.
    """
    from samplekit.frame import apply_panel
    from samplekit.io import read_table

    table = cities(params)
    frame = register(params, city_table=table)
    panel_path = params.path_of("panel.path", None)
    if panel_path is not None:
        frame = apply_panel(frame, read_table(panel_path), file=panel_path.name)
    return table, frame


# ------------------------------------------------------------------------------ design
def allocation(params: Params) -> Any:
    """The allocation (:class:`samplekit.allocation.AllocationResult`) of a params file."""
    from samplekit.allocation import AllocationSettings, allocate
    from samplekit.io import read_table

    table, frame = inputs(params)
    given = {}
    for key in ("city_totals", "compare_with"):  # the province's task table, imposed or compared
        path = params.path_of(f"allocation.{key}", None)
        given[key] = None if path is None else read_table(path)
    return allocate(table, frame, AllocationSettings.from_params(params), **given)


def eligibility(params: Params) -> Any:
    """Which register units may enter the panel (:class:`samplekit.rules.EligibilityRule`):
    active, and not excluded by an ``exclude`` rule of the allocation."""
    from samplekit.allocation import AllocationSettings
    from samplekit.rules import EligibilityRule

    if params.get("allocation", None) is None:
        return EligibilityRule()
    return EligibilityRule.from_rules(AllocationSettings.from_params(params).rules)


def selection(params: Params) -> Any:
    """The selection (:class:`samplekit.selection.SelectionResult`) of a params file (cached).

    Keyed by the design sections of the params, the bytes of every file they name and the code.
    """
    from samplekit.selection import SelectionSettings, select_sample

    def build() -> Any:
        _, frame = inputs(params)
        cells = allocation(params).cells
        return select_sample(frame, cells, SelectionSettings.from_params(params))

    return cached_object(content_key("selection", params=params, sections=_DESIGN_SECTIONS), build)


def list_form(
    params: Params, *, monthly_only: bool = False
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """The monitored-enterprise list (失业动态监测城市监测企业名单 layout) of a params file.

    Contacts come from the register's ``contact_*`` columns and from ``selection.contacts``;
    returns the lists (per city and the province), the bureau liaisons and the warnings about
    malformed phones and e-mails (kept, not dropped).
    """
    from samplekit import list_form as lf
    from samplekit.io import read_table

    result = selection(params)
    _, frame = inputs(params)
    sample, warn_reg = lf.attach_contacts(
        result.sample, lf.register_contacts(frame), file="register"
    )
    path = params.path_of("selection.contacts", None)
    contacts = None
    warn_file = pd.DataFrame(columns=lf.WARNING_COLUMNS)
    if path is not None:
        contacts, _ = lf.check_contacts(read_table(path), file=path.name)
        sample, warn_file = lf.attach_contacts(sample, contacts, file=path.name)
    warnings = pd.concat(
        [w for w in (warn_reg, warn_file) if len(w)] or [warn_reg], ignore_index=True
    )
    return lf.list_form(sample, monthly_only=monthly_only), lf.bureau_contacts(contacts), warnings


# ------------------------------------------------------------------------------ the store
def store(params: Params) -> Path:
    """The DuckDB store of the job: ``monthly.store``, or the demo store (built once, cached).

    The demo store holds the demo's panel of record (its windows) and the monthly reports of the
    demo history, ingested through the real ingest path.
    """
    if not uses_demo(params, "store"):
        path = params.path_of("monthly.store")
        if not path.exists():
            raise InputError(
                f"{params.path}: monthly.store = {path} 不存在;请先用 `samplekit select ... "
                f"--store {path}` 写入样本名单(或用 `samplekit ingest ... --store {path}` 建库),"
                "或将其设为 null 使用演示数据"
            )
        return path

    def build(folder: Path) -> None:
        from samplekit.demo import build_demo_store, demo_panel
        from samplekit.demo.network import add_network_demo
        from samplekit.insurance import InsuranceSettings
        from samplekit.reporting_calendar import CalendarSettings
        from samplekit.selection import SelectionSettings
        from samplekit.special_notes import NoteSettings

        table, frame = inputs(params)  # the register: reserves and statuses for the windows
        settings = _history(params, table)
        network = _network_demo(table, settings.shock, demo_province=is_demo_province(params))
        path = build_demo_store(
            demo_panel(selection(params).sample, settings),
            folder,
            settings=settings,
            cities=table,
            frame=frame,
            selection=SelectionSettings.from_params(params),
            network=network,
        )
        # Receipt times, late and missing reports, supplementary records, special notes and
        # the insured-persons file: the monitoring network run month by month.
        add_network_demo(
            path,
            out_dir=folder / "network",
            settings=network,
            calendar=CalendarSettings.from_params(params),
            insurance=InsuranceSettings.from_params(params),
            notes=NoteSettings.from_params(params),
            rng=settings.seed + 14,
        )

    key = content_key("demo_store", params=params, sections=_STORE_SECTIONS)
    return cached_dir(key, build) / "store.duckdb"


def membership(params: Params) -> pd.DataFrame:
    """Every panel-membership row of the store (the panel of record over time)."""
    from samplekit.store import read_membership

    return read_membership(store(params))


def panel_in_force(params: Params, period: str) -> pd.DataFrame:
    """The members in force in month ``period`` (sample-list layout with that window's weights)."""
    from samplekit.store import panel_in_force as in_force

    return in_force(store(params), period)


def reports(params: Params, periods: list[str] | None = None) -> pd.DataFrame:
    """Accepted monthly reports of the store (canonical layout)."""
    from samplekit.store import read_reports

    return read_reports(store(params), periods)


#: City-table columns the job layer derives from the store (not read from a file): the persons
#: in layoff-plan notices received (裁员方案报告, the store's supplementary records).
STORE_CITY_COLUMNS: tuple[str, ...] = ("notice_persons",)


def city_indicators(
    params: Params,
    *,
    city_reports: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The city indicators table: ``warning.city_indicators``, or the seeded demo table.

    A ``source: city`` indicator on ``notice_persons`` (without its own ``table``) takes the
    persons in the layoff-plan notices of ``events`` (default: the store's supplementary
    records) per city and month, the province row their sum (:func:`events.with_notice_persons`).
    """
    from samplekit.indicators import (
        declared_columns,
        load_city_indicators,
        merge_tables,
    )
    from samplekit.warning import WarningSettings

    table = cities(params)
    province = str(params.get("province.name", "全省"))
    allowed = [*table["city"].astype(str), province]
    settings = WarningSettings.from_params(params)
    specs = declared_columns(settings.indicators)
    # Indicators with their own external table (``table:``) are read and validated apart.
    own = {ind.column: ind.table for ind in settings.indicators if ind.table}
    from_store = [
        c
        for c in STORE_CITY_COLUMNS
        if any(i.source == "city" and i.column == c and not i.table for i in settings.indicators)
    ]
    main_specs = {k: v for k, v in specs.items() if k not in own and k not in from_store}
    if not uses_demo(params, "city_indicators"):
        # Store-derived columns are read too, so that the same column in the file is refused
        # below (two sources for one indicator) rather than silently ignored.
        base = load_city_indicators(
            params.path_of("warning.city_indicators"),
            cities=allowed,
            columns={**main_specs, **{c: specs[c] for c in from_store}},
        )
        base = base.drop(columns=[c for c in from_store if c in base and base[c].isna().all()])
    else:
        base = _demo_city_indicators(params, table, province, allowed, main_specs, city_reports)
    for ind in settings.indicators:
        if ind.table:
            path = resolve_path(ind.table)
            extra = load_city_indicators(
                path, cities=allowed, columns={ind.column: specs[ind.column]}
            )
            base = merge_tables(base, extra[["city", "period", ind.column]], file=path.name)
    if from_store:
        from samplekit.events import with_notice_persons
        from samplekit.store import read_network_table

        if events is None:
            events = read_network_table(store(params), "events")
        # The same column in the user's table too would be two sources for one indicator.
        notices = with_notice_persons(base[["city", "period"]], events, province=province)
        base = merge_tables(base, notices, file="数据库补充数据(裁员方案报告)")
    return base


def resolve_path(value: str) -> Path:
    """A params path resolved against the project root."""
    from samplekit.paths import resolve

    return Path(resolve(value))


def _demo_city_indicators(
    params: Params,
    table: pd.DataFrame,
    province: str,
    allowed: list[str],
    specs: dict[str, Any],
    city_reports: pd.DataFrame | None,
) -> pd.DataFrame:
    """The seeded demo city table, with the demo macro series when params declare them."""
    from samplekit.demo import demo_city_indicators, demo_macro_indicators
    from samplekit.indicators import validate_city_indicators

    history = _history(params, table)
    shock = history.shock
    demo = demo_city_indicators(
        table,
        province=province,
        start=history.start,
        end=history.end,
        shock=None
        if shock is None
        else {"cities": list(shock.cities), "start": shock.start, "end": shock.end},
        city_reports=city_reports,
        rng=int(params.get("seed", 0, types=int)) + 606,
    )
    macro = demo_macro_indicators(
        table,
        province=province,
        start=history.start,
        end=history.end,
        shock=None
        if shock is None
        else {"cities": list(shock.cities), "start": shock.start, "end": shock.end},
        rng=int(params.get("seed", 0, types=int)) + 707,
    )
    wanted = [c for c in macro.columns if c in specs]
    if wanted:
        demo = demo.merge(macro[["city", "period", *wanted]], on=["city", "period"], how="left")
    return validate_city_indicators(demo, cities=allowed, file="演示城市指标表", columns=specs)


def warning_inputs(params: Params) -> dict[str, Any]:
    """Reports, the panel of record, the city table and the city indicators of a job."""
    from samplekit.store import read_city_reports, read_membership, read_network_table, read_reports

    path = store(params)
    city_reports = read_city_reports(path)
    return {
        "store": path,
        "reports": read_reports(path),
        "membership": read_membership(path),
        "cities": cities(params),
        "city_reports": city_reports,
        "city_indicators": city_indicators(
            params, city_reports=city_reports, events=read_network_table(path, "events")
        ),
        # Derived from the params alone: results computed from them may be cached by content.
        "from_params": True,
    }


def _warning_key(params: Params, path: Path, quarter: str, forecasts: bool) -> str:
    """Cache key of a warning result: the params, the code and the store's content (a real
    store by its bytes; the demo store's folder name is already its content key)."""
    files = [] if uses_demo(params, "store") else [path]
    return content_key(
        "warning",
        params=params,
        files=files,
        sections=(*_STORE_SECTIONS, "warning", "quarter", "demo"),
        extra={"store": str(path), "quarter": quarter, "forecasts": forecasts},
    )


def warning(
    params: Params,
    quarter: str | None = None,
    *,
    inputs: dict[str, Any] | None = None,
    forecasts: bool = True,
) -> Any:
    """The quarter's warning analysis (:class:`samplekit.warning.WarningResult`)."""
    from samplekit.bridge import BreakSettings
    from samplekit.cache import cache_dir_has, caching_enabled
    from samplekit.forecast import ForecastSettings
    from samplekit.warning import WarningSettings, compute_warning

    quarter = quarter or params.get("quarter", types=str)
    if inputs is not None and not inputs.get("from_params"):
        data = inputs  # the caller's own inputs: computed, never cached
    else:
        data = None

    def build() -> Any:
        d = data or inputs or warning_inputs(params)
        return compute_warning(
            d["reports"],
            d["membership"],
            d["city_indicators"],
            WarningSettings.from_params(params),
            quarter=quarter,
            province=str(params.get("province.name", "全省")),
            fsettings=ForecastSettings.from_params(params),
            forecasts=forecasts,
            series_break=BreakSettings.from_params(params),
        )

    if data is not None or not caching_enabled():
        return build()
    # Notebooks 04, 05 and the brief read the same quarter: compute it once per content.
    path = store(params)
    if not forecasts and cache_dir_has(_warning_key(params, path, quarter, True)):
        return cached_object(_warning_key(params, path, quarter, True), build)
    return cached_object(_warning_key(params, path, quarter, forecasts), build)


def warm(params: Params) -> None:
    """Build and cache every slow input a run reads (the demo register, the selection, the
    store), so notebooks started side by side find them ready."""
    if params.get("province.cities", None) is None:
        return
    if params.get("allocation", None) is not None and params.get("selection", None) is not None:
        selection(params)
    if params.get("monthly", None) is not None:
        store(params)
        if params.get("warning", None) is not None and params.get("quarter", None) is not None:
            warning(params)


def monthly_warning(params: Params, period: str, *, inputs: dict[str, Any] | None = None) -> Any:
    """One month's warning (:class:`samplekit.warning_monthly.MonthlyWarningResult`): the
    monthly indicators judged and the immediate-report decision, from the same inputs as the
    quarterly warning (the demo's registered rates come from the store's city reports)."""
    from samplekit.warning import WarningSettings
    from samplekit.warning_monthly import compute_monthly_warning

    settings = WarningSettings.from_params(params)
    province = str(params.get("province.name", "全省"))
    data = inputs or warning_inputs(params)
    counts = None
    if settings.mass_layoff_cluster is not None:
        counts = monthly_layoff_counts(data["reports"], data["membership"], settings)
    return compute_monthly_warning(
        data["city_indicators"], settings, period=period, province=province, layoff_counts=counts
    )


def monthly_layoff_counts(
    reports: pd.DataFrame, membership: pd.DataFrame, settings: Any
) -> pd.DataFrame:
    """``period, city, count``: sample enterprises in mass layoff per city and month."""
    from samplekit.monthly_tables import mass_layoffs

    ml = mass_layoffs(
        reports,
        membership,
        min_persons=settings.mass_layoff_persons,
        min_share=settings.mass_layoff_share,
        network="province",
    )
    out = ml.drop_duplicates(["period", "enterprise_id"]).groupby(["period", "city"]).size()
    return out.rename("count").reset_index()


def counties(params: Params) -> pd.DataFrame:
    """The county table (``warning.counties``; null = the demo counties, synthetic weights)."""
    from samplekit.counties import validate_counties
    from samplekit.io import read_table

    allowed = cities(params)["city"].astype(str)
    path = params.path_of("warning.counties", None)
    if path is None:
        from samplekit.demo.counties import demo_counties

        return validate_counties(
            demo_counties().astype(str).replace("nan", ""), cities=allowed, file="演示县区表"
        )
    return validate_counties(read_table(path), cities=allowed, file=path.name)


def declared_counties(params: Params) -> pd.DataFrame | None:
    """The county table the params declare (``warning.counties``), or None: the register's
    县(区) column is checked against it (the demo counties are the demo's, not a declaration)."""
    if params.path_of("warning.counties", None) is None:
        return None
    return counties(params)


def members_with_county(params: Params, members: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The membership rows of the cities with counties, each with its ``county``: from the
    store (schema 3), else the register's column, else the demo's seeded assignment."""
    stored = "county" in members and bool(members["county"].notna().any())
    if not stored:
        reg = register(params)
        if "county" in reg:  # a store written before schema 3: the register still knows
            county = reg.drop_duplicates("enterprise_id").set_index("enterprise_id")["county"]
            members = members.assign(county=members["enterprise_id"].map(county))
        else:
            from samplekit.demo.counties import assign_demo_counties

            members = members.assign(
                county=assign_demo_counties(members, table, seed=int(params.get("seed", 0)))
            )
    return members[members["county"].notna() & members["city"].isin(set(table["city"]))]


def county_warning(
    params: Params, quarter: str | None = None, *, inputs: dict[str, Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The third level: each city's allocation re-apportioned to its counties and the county
    levels of the indicators whose scope includes ``county`` (``counties.county_levels``).

    Members get their county from the store's membership (``panel_membership.county``, schema
    3: carried from the register's optional 县(区) through selection); a store without it falls
    back to the register's ``county`` column, and the demo (no county column anywhere) to a
    seeded assignment (``demo.counties``, synthetic). Returns ``(allocation by county, county
    levels)``.
    """
    from samplekit.counties import county_estimates, county_levels, reapportion
    from samplekit.estimation import network_members, network_reports
    from samplekit.periods import quarters_back
    from samplekit.warning import WarningSettings

    quarter = quarter or params.get("quarter", types=str)
    settings = WarningSettings.from_params(params)
    table = counties(params)
    alloc = allocation(params).city[["city", "allocated"]].rename(columns={"allocated": "n"})
    by_county = reapportion(alloc, table)
    data = inputs or warning_inputs(params)
    members = network_members(data["membership"], network="province")
    reports = network_reports(data["reports"], data["membership"], network="province")
    members = members_with_county(params, members, table)
    cols = sorted(
        {i.column for i in settings.indicators if "county" in i.scope and i.source == "estimate"}
    )
    if not cols:
        return by_county, pd.DataFrame()
    quarters = [quarter, *quarters_back(quarter, 5)[:1]]  # the quarter and a year earlier
    est = county_estimates(
        reports[reports["enterprise_id"].isin(set(members["enterprise_id"]))],
        members,
        sorted(set(quarters)),
        indicators=cols,
        min_reporters=settings.min_reporters,
    )
    return by_county, county_levels(est, settings, quarter=quarter)


def county_forecast(
    params: Params, quarter: str | None = None, *, inputs: dict[str, Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """County forecasts: the monthly county series of the indicators whose scope includes
    ``county`` up to the quarter's last month, forecast like the cities' and judged against
    the county lines; counties too small (``warning.min_reporters``) flagged, not forecast
    (``counties.county_forecasts``). Members get their county as in :func:`county_warning`.
    Returns ``(forecasts, forecast levels by county)``; empty when no indicator has the
    county scope."""
    from samplekit.counties import county_forecasts, county_monthly
    from samplekit.estimation import network_members, network_reports
    from samplekit.forecast import ForecastSettings
    from samplekit.periods import quarter_months
    from samplekit.warning import WarningSettings

    quarter = quarter or params.get("quarter", types=str)
    settings = WarningSettings.from_params(params)
    data = inputs or warning_inputs(params)
    members = network_members(data["membership"], network="province")
    reports = network_reports(data["reports"], data["membership"], network="province")
    members = members_with_county(params, members, counties(params))
    end = quarter_months(quarter)[-1]
    monthly = county_monthly(
        reports[reports["enterprise_id"].isin(set(members["enterprise_id"]))],
        members,
        settings,
        end=end,
    )
    return county_forecasts(monthly, settings, ForecastSettings.from_params(params), end=end)


# ------------------------------------------------------------------------------ notes
def data_note(params: Params) -> str:
    """A Chinese note naming every demo (synthetic) input a job uses; empty for real data.

    Notebooks, workbooks and reports show it, so no synthetic figure is ever read as a fact.
    """
    from samplekit.cities import synthetic_note

    parts = []
    note = synthetic_note(cities(params))
    if note:
        parts.append(note)
    if params.get("frame.synthetic", False):
        parts.append("企业名录为 samplekit demo-register 生成的合成演练名录,不是真实企业。")
    if _null_demo(params, "frame"):
        parts.append("企业名录为按固定随机种子生成的合成演示名录(docs/demo_province.md)。")
    if _null_demo(params, "store") and params.get("monthly.demo.expansion", False) is True:
        parts.append(
            "月度监测数据与样本轮换窗口为合成的演示历史数据:2010年1月至2013年11月为原约3000家"
            "监测企业(目的抽样,按名录边际校准加权),2013年10—11月新增企业试填报(不计入正式估计),"
            "2013年12月起为扩面后的10000家样本;含春节季节性与一次出口冲击。"
        )
    elif _null_demo(params, "store"):
        parts.append(
            "月度监测数据与样本轮换窗口为合成的演示历史数据(2010年1月起,含春节季节性、"
            "每年12月的样本轮换与一次出口冲击)。"
        )
    if _null_demo(params, "city_indicators"):
        parts.append(
            "城市预警指标(登记失业率、失业保险基金可支撑月数、出口总值增速等)为合成演示数据。"
        )
    return "".join(parts)


# ------------------------------------------------------------------------------ validation
#: Params keys that name input files which must exist when they are set.
_FILE_KEYS = (
    "province.cities",
    "frame.path",
    "panel.path",
    "warning.city_indicators",
    "warning.counties",
)


def validate(params: Params) -> None:
    """Check every section of a params file now, before any step runs.

    Each present section is parsed by the settings class of the step that uses it, so a typo under
    ``warning:`` is reported when the file loads, not after notebooks 00–03 have run. Files the
    params name must exist; cities named in rules must be cities of the city table. Every error
    names the file and the dotted key (:class:`~samplekit.errors.ParamsError`).
    """
    from samplekit.errors import ParamsError

    present = set(params.data)
    if "province" in present:
        params.check_keys("province", {"name", "cities", "synthetic"})
    if "frame" in present:
        params.check_keys("frame", {"path", "demo", "synthetic"})
        demo = params.get("frame.demo", {})
        if not isinstance(demo, dict) or set(demo) - {"units", "seed"}:
            raise ParamsError(
                f"{params.path}: 'frame.demo' takes units and seed only, found {demo!r}"
            )
        params.number("frame.demo.units", 300_000, low=1000)
        params.number("frame.demo.seed", 2013)
    if "panel" in present:
        params.check_keys("panel", {"path"})
    for key in ("demo", "frame.synthetic"):
        flag = params.get(key, None)
        if flag is not None and not isinstance(flag, bool):
            raise ParamsError(f"{params.path}: 参数 '{key}' 应为 true 或 false,现为 {flag!r}")
    for key in _FILE_KEYS:
        path = params.path_of(key, None)
        if path is not None and not path.is_file():
            raise ParamsError(f"{params.path}: key '{key}' = {path}: 文件不存在 (file not found)")
    if "allocation" in present:
        from samplekit.allocation import AllocationSettings

        AllocationSettings.from_params(params)
    if "selection" in present:
        from samplekit.maintenance import MaintenanceSettings
        from samplekit.selection import SelectionSettings

        SelectionSettings.from_params(params)
        MaintenanceSettings.from_params(params)
    if "monthly" in present:
        from samplekit.bridge import BreakSettings
        from samplekit.demo import HistorySettings
        from samplekit.reports import ValidationRules

        ValidationRules.from_params(params)
        HistorySettings.from_params(params)
        BreakSettings.from_params(params)  # monthly.break: a declared series break (issue 16)
        _validate_network(params)
        store = params.get("monthly.store", None)
        if store is not None and not isinstance(store, str):
            raise ParamsError(f"{params.path}: key 'monthly.store' must be a path or null")
    if "warning" in present:
        from samplekit.forecast import ForecastSettings
        from samplekit.warning import WarningSettings

        settings = WarningSettings.from_params(params)
        ForecastSettings.from_params(params)
        for ind in settings.indicators:  # external tables of single indicators must exist
            if ind.table and not resolve_path(ind.table).is_file():
                raise ParamsError(
                    f"{params.path}: key 'warning.indicators.{ind.key}.table' = {ind.table}: "
                    "文件不存在 (file not found)"
                )
    if "backtest" in present:
        from samplekit.backtest import BacktestRule

        BacktestRule.from_params(params)
    if "evaluation" in present:
        from samplekit.evaluation import EvaluationSettings

        EvaluationSettings.from_params(params)
    if "deep_dive" in present:
        from samplekit.deep_dive import DeepDiveSettings

        DeepDiveSettings.from_params(params)
    if "extracts" in present:
        from samplekit.extracts import ExtractSettings

        ExtractSettings.from_params(params)
    if "release" in present:
        from samplekit.release import ReleaseSettings

        ReleaseSettings.from_params(params)
    _check_city_names(params)


def _validate_network(params: Params) -> None:
    """The network's sections of ``monthly`` (calendar, events, special notes, insurance)."""
    from samplekit.events import EventSettings
    from samplekit.insurance import InsuranceSettings
    from samplekit.reporting_calendar import CalendarSettings
    from samplekit.special_notes import NoteSettings

    CalendarSettings.from_params(params)
    EventSettings.from_params(params)
    NoteSettings.from_params(params)
    InsuranceSettings.from_params(params)


def _check_city_names(params: Params) -> None:
    """Cities named in params (tilt, pillar industries, monthly cities, the demo shock) must be
    cities of the city table: a params file copied from another province is refused here."""
    from samplekit.errors import ParamsError

    named: list[tuple[str, Any]] = []
    tilt = params.get("allocation.tilt", {})
    if isinstance(tilt, dict):
        named += [(f"allocation.tilt.{c}", c) for c in tilt]
    pillar = params.get("allocation.sections.pillar", {})
    if isinstance(pillar, dict):
        named += [(f"allocation.sections.pillar.{c}", c) for c in pillar if c != "all"]
    monthly_cities = params.get("allocation.monthly.cities", None)
    if isinstance(monthly_cities, list):
        named += [(f"allocation.monthly.cities[{i}]", c) for i, c in enumerate(monthly_cities)]
    shock = params.get("monthly.demo.shock.cities", None)
    if isinstance(shock, list):
        named += [(f"monthly.demo.shock.cities[{i}]", c) for i, c in enumerate(shock)]
    if not named or params.get("province.cities", None) is None:
        return
    known = set(cities(params)["city"].astype(str))
    for key, city in named:
        if str(city) not in known:
            raise ParamsError(
                f"{params.path}: key '{key}' names city {city!r}, which is not in the city table "
                f"{params.get('province.cities')} (cities: {'、'.join(sorted(known))})"
            )


# ------------------------------------------------------------------------------ the network
# Issue 13: the reporting calendar, supplementary records, special notes, the insurance
# cross-check and the city evaluation. These take a store path (the CLI's --store) or params.
def members_expected(store_path: Path | str, period: str) -> pd.DataFrame:
    """The members expected to report in ``period``: the panel of record in force then
    (``store.panel_in_force``) when the store has windows, else the store's current panel."""
    import duckdb

    import samplekit.store as st
    from samplekit.errors import SamplekitError

    in_force = getattr(st, "panel_in_force", None)
    if in_force is not None:
        try:
            members = in_force(store_path, period)
        except (SamplekitError, LookupError, duckdb.Error):  # a store without windows
            members = None
        if members is not None and len(members):
            return members
    return st.read_panel(store_path)


def reporting_status(
    store_path: Path | str, periods: list[str], *, settings: Any = None
) -> pd.DataFrame:
    """:func:`samplekit.reporting_calendar.member_status` of each month, from the store."""
    from samplekit.reporting_calendar import CalendarSettings, closed_before, member_status
    from samplekit.store import read_deliveries, read_network_table, read_reports

    settings = settings or CalendarSettings()
    deliveries = read_deliveries(store_path, periods)
    receipts = read_network_table(store_path, "receipts")
    history = read_reports(store_path)
    history = history[history["period"] < max(periods)]
    parts = []
    for period in periods:
        closed = closed_before(history, period)  # a closure is a fall to zero, not nonresponse
        parts.append(
            member_status(
                members_expected(store_path, period),
                deliveries,
                receipts,
                period=period,
                settings=settings,
                closed=closed,
            )
        )
    return pd.concat(parts, ignore_index=True)


def city_evaluation(
    store_path: Path | str,
    quarter: str,
    *,
    calendar: Any = None,
    evaluation: Any = None,
    cities: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(metrics, scores)`` of the quarterly city evaluation from a store."""
    from samplekit.evaluation import EvaluationSettings, city_metrics, score_cities
    from samplekit.periods import quarter_months
    from samplekit.reporting_calendar import CalendarSettings, analysis_status
    from samplekit.store import read_deliveries, read_network_table, read_panel, read_row_problems

    calendar = calendar or CalendarSettings()
    months = quarter_months(quarter)
    status = reporting_status(store_path, months, settings=calendar)
    if (status["status"] == "time_unknown").all():
        import warnings

        from samplekit.errors import SamplekitWarning

        warnings.warn(
            f"{store_path}:{quarter}的报表都没有登记接收时间,无法评价报送及时性(全部按"
            "“报送时间未登记”计)。请用 `samplekit receive` 登记接收时间。",
            SamplekitWarning,
            stacklevel=2,
        )
    panel = read_panel(store_path)
    present = set(status["city"].astype(str))
    # Province order when the city table is given; cities without members are not scored.
    names = [c for c in cities if c in present] if cities else sorted(present)
    analysis = analysis_status(
        read_network_table(store_path, "receipts"), cities=names, quarter=quarter, settings=calendar
    )
    metrics = city_metrics(
        status,
        read_deliveries(store_path, months),
        read_row_problems(store_path, months),
        read_network_table(store_path, "insurance_warnings"),
        analysis,
        panel,
        quarter=quarter,
        cities=names,
    )
    return metrics, score_cities(metrics, settings=evaluation or EvaluationSettings())


def evaluation(params: Params, quarter: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(metrics, scores)`` of the quarter's city evaluation of a job (cities in the city
    table's order; weights from ``evaluation:``, deadlines from ``monthly.calendar``)."""
    from samplekit.evaluation import EvaluationSettings
    from samplekit.reporting_calendar import CalendarSettings

    quarter = quarter or params.get("quarter", types=str)
    names = (
        cities(params)["city"].astype(str).tolist()
        if params.get("province.cities", None) is not None
        else None
    )
    return city_evaluation(
        store(params),
        quarter,
        calendar=CalendarSettings.from_params(params),
        evaluation=EvaluationSettings.from_params(params),
        cities=names,
    )


# ------------------------------------------------------------------------------ brief, deep dive
# Issue 18: the quarterly brief (监测简报), topical deep dives and research extracts.
def brief(
    params: Params,
    quarter: str | None = None,
    *,
    inputs: dict[str, Any] | None = None,
    warning_result: Any = None,
) -> Any:
    """The quarter's brief (:class:`samplekit.brief.Brief`) from the store, the register and
    the warning result of the same quarter (computed here when not given)."""
    from samplekit.brief import compute_brief
    from samplekit.store import read_windows
    from samplekit.warning import WarningSettings

    quarter = quarter or params.get("quarter", types=str)
    data = inputs or warning_inputs(params)
    result = warning_result if warning_result is not None else warning(params, quarter, inputs=data)
    return compute_brief(
        quarter=quarter,
        reports=data["reports"],
        membership=data["membership"],
        windows=read_windows(data["store"]),
        register=register(params, city_table=data["cities"]),
        province=str(params.get("province.name", "全省")),
        warning=result,
        min_reporters=WarningSettings.from_params(params).min_reporters,
    )


def deep_dive(params: Params) -> Any:
    """The deep dive of ``deep_dive:`` (:class:`samplekit.deep_dive.DeepDiveResult`)."""
    from samplekit.deep_dive import DeepDiveSettings, compare_domain
    from samplekit.store import read_membership, read_reports

    settings = DeepDiveSettings.from_params(params)
    path = store(params)
    return compare_domain(read_reports(path), read_membership(path), settings=settings)


def extract(
    params: Params, *, role: str, periods: list[str], out_dir: Path, who: str
) -> dict[str, Any]:
    """Write the extract of ``role`` for ``periods`` to ``out_dir`` and log it in the store.

    The workbook ``extract_<role>_<first>_<last>.xlsx`` has the data and a 说明 sheet (role,
    periods, what is hidden, small-cell treatment, terms of use, the standard rows); the log
    row (``store.log_extract``) records who, when, the role, the months and the file's SHA-256.
    """
    from samplekit.extracts import HEADERS_ZH, ExtractSettings, about_rows, build_extract
    from samplekit.io import file_sha256, standard_about, write_xlsx
    from samplekit.store import log_extract, read_membership, read_reports

    settings = ExtractSettings.from_params(params)
    spec = settings.role(role)
    path = store(params)
    contacts = None
    if spec.contacts:
        from samplekit import list_form as lf
        from samplekit.io import read_table

        contacts = lf.register_contacts(register(params))
        extra = params.path_of("selection.contacts", None)
        if extra is not None:
            checked, _ = lf.check_contacts(read_table(extra), file=extra.name)
            contacts = (
                checked
                if contacts is None
                else pd.concat([checked, contacts], ignore_index=True).drop_duplicates(
                    "enterprise_id"
                )
            )
    reports_ = read_reports(path, list(periods))
    result = build_extract(
        reports_,
        read_membership(path),
        role=spec,
        periods=periods,
        min_cell=settings.threshold(spec),
        contacts=contacts,
        salt=f"{params.get('seed', 0)}|{role}",
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = f"extract_{role}_{result.periods[0]}_{result.periods[-1]}.xlsx"
    note = data_note(params)
    write_xlsx(
        {"数据": result.data},
        out / name,
        headers=HEADERS_ZH,
        titles={"数据": f"企业用工定点监测月报数据({spec.name})"},
        source="企业用工定点监测直报系统",
        data_note=note,
        # No input checksums: the store named in params changes with every logged
        # extract, so the workbook would never be reproducible; the data's own digest
        # is in the 说明 rows instead.
        about=standard_about(params, extra=about_rows(result, settings), inputs=False),
        formats={"calibrated_weight": "dec4", "export_share": "dec2"},
    )
    sha = file_sha256(out / name)
    extract_id = log_extract(
        path,
        who=who,
        role=role,
        role_name=spec.name,
        periods=result.periods,
        file_name=name,
        sha256=sha,
        rows=len(result.data),
        firms=result.firms,
        min_cell=result.min_cell,
        suppressed=result.suppressed,
        params_sha256=params.digest(),
    )
    return {
        "file": str(out / name),
        "rows": len(result.data),
        "firms": result.firms,
        "role": spec.name,
        "periods": f"{result.periods[0]}~{result.periods[-1]}",
        "extract_id": extract_id,
        "sha256": sha,
    }


# ------------------------------------------------------------------------------ quarterly release
def labour_store(params: Params, quarter: str) -> Path:
    """The store holding the quarter's labour-use forms (企业用工情况调查表, issue 15).

    Real data: ``monthly.store`` (forms loaded with :func:`samplekit.store.ingest_labour_forms`).
    Demo: a copy of the demo store with the quarter's synthetic forms generated for the members
    in force at the quarter's end and ingested through the real ingest path (cached).
    """
    if not uses_demo(params, "store"):
        return store(params)
    import shutil

    from samplekit.labour_form import FormRules, quarter_last_month

    base = store(params)

    def build(folder: Path) -> None:
        from samplekit.demo.labour import demo_labour_forms, write_demo_labour_forms
        from samplekit.store import ingest_labour_forms, panel_in_force, read_reports

        path = folder / "store.duckdb"
        shutil.copyfile(base, path)
        month = quarter_last_month(quarter)
        rep = read_reports(path, [month])
        headcount = rep.set_index("enterprise_id")["survey_employment"].astype(float)
        forms = demo_labour_forms(
            panel_in_force(path, month),
            headcount,
            quarter=quarter,
            rng=int(params.get("seed", 0, types=int)) + 1515,
        )
        file = write_demo_labour_forms(forms, folder / "forms", quarter=quarter)
        ingest_labour_forms(path, file, quarter=quarter, rules=FormRules.from_params(params))

    key = content_key(
        "demo_labour",
        params=params,
        sections=(*_STORE_SECTIONS, "release"),
        extra={"quarter": quarter},
    )
    return cached_dir(key, build) / "store.duckdb"


def release(params: Params, quarter: str | None = None) -> Any:
    """The quarter's release (:class:`samplekit.release.ReleaseResult`): estimates by region,
    industry and size, shortage ranking, disclosure control."""
    from samplekit.release import ReleaseSettings, compute_release
    from samplekit.store import read_labour_forms, read_membership, read_reports

    quarter = quarter or params.get("quarter", types=str)
    path = labour_store(params, quarter)
    return compute_release(
        read_labour_forms(path, quarter),
        read_reports(path),
        read_membership(path),
        quarter=quarter,
        settings=ReleaseSettings.from_params(params),
    )


def release_note(params: Params) -> str:
    """:func:`data_note` plus, for the demo, the note that the quarterly forms are synthetic."""
    note = data_note(params)
    if uses_demo(params, "store"):
        note += "季度企业用工情况调查表为按固定随机种子生成的合成演示数据(docs/release.md)。"
    return note

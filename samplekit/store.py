"""The monthly report store: one DuckDB file holding the panel of record and the report history.

The panel of record is dated (``panel_membership``, ``panel_windows``, ``panel_changes``;
rules in ``samplekit.panel``): each window closes the open rows and opens new ones, and a report
is accepted only for an enterprise in force in the report's month.

Guarantees (tested in ``tests/test_store.py``; schema in ``docs/monthly.md``):

* **atomic** — a file is loaded inside one transaction (``BEGIN`` … ``COMMIT``/``ROLLBACK``):
  entirely or not at all;
* **idempotent** — the SHA-256 of the file's bytes is recorded; loading the same bytes again
  changes nothing;
* **resubmission with audit** — a row for an enterprise-period already in the store replaces it;
  the replaced row is copied to ``audit`` with the load that replaced it;
* **quarantine** — rows with an error go to ``quarantine`` (with their original cells as JSON)
  and their problems to ``quarantine_problems``; warnings of accepted rows go to
  ``report_flags``. Nothing is ever lost.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd

from samplekit.errors import InputError, Problem, ValidationError, problems_frame
from samplekit.panel import (
    CHANGE_LOG_COLUMNS,
    MEMBERSHIP_COLUMNS,
    OPEN_START,
    WindowKind,
    WindowPlan,
    apply_plan,
    check_no_overlap,
    exits_from_changes,
    in_force,
    membership_rows,
    next_month,
    not_in_panel_problems,
    plan_window,
    previous_month,
    sample_layout,
    validate_window,
)
from samplekit.periods import MONTH_RE
from samplekit.reports import (
    CITY_COLUMNS,
    REASON_COLUMNS,
    REDUCTION_COLUMNS,
    REPORT_COLUMNS,
    ReportFile,
    ValidationRules,
    previous_period,
    read_report_file,
    rejected_rows,
    validate_city_reports,
    validate_reports,
)

#: Schema history: 1 one current ``panel`` table; 2 the dated panel of record; 3 the optional
#: ``county`` (县(区)) of each membership row. Older stores are migrated when opened for writing.
SCHEMA_VERSION = "3"

PANEL_COLUMNS: list[str] = [
    "enterprise_id",
    "name",
    "city",
    "section",
    "size_class",
    "ownership",
    "registration_type",
    "export_share",
    "individual",
]

_REPORT_DDL = """
    enterprise_id VARCHAR NOT NULL, period VARCHAR NOT NULL,
    baseline_employment BIGINT, survey_employment BIGINT, change BIGINT, change_pct DOUBLE,
    reduction_closure BIGINT, reduction_suspension BIGINT, reduction_layoff BIGINT,
    reduction_relocation BIGINT, reduction_other BIGINT,
    reason_1 SMALLINT, reason_2 SMALLINT, reason_3 SMALLINT, remark VARCHAR,
    load_id INTEGER NOT NULL, source_row INTEGER"""
_CITY_DDL = """
    city VARCHAR NOT NULL, period VARCHAR NOT NULL,
    registered_unemployed_start DOUBLE, registered_unemployed_end DOUBLE,
    registered_rate_start DOUBLE, registered_rate_end DOUBLE,
    load_id INTEGER NOT NULL, source_row INTEGER"""
_PROBLEM_DDL = """
    load_id INTEGER NOT NULL, file_name VARCHAR, "row" INTEGER, severity VARCHAR,
    "column" VARCHAR, value VARCHAR, rule VARCHAR, message VARCHAR"""

SCHEMA: dict[str, str] = {
    "meta": "key VARCHAR PRIMARY KEY, value VARCHAR",
    "panel_membership": """enterprise_id VARCHAR NOT NULL, name VARCHAR, city VARCHAR,
        section VARCHAR, size_class VARCHAR, ownership VARCHAR, registration_type VARCHAR,
        employees BIGINT, export_share DOUBLE, individual BOOLEAN, valid_from VARCHAR NOT NULL,
        valid_to VARCHAR, inclusion_prob DOUBLE, weight DOUBLE, calibrated_weight DOUBLE,
        cell_frame_units BIGINT, cell_n BIGINT, ministry BOOLEAN, entry_reason VARCHAR,
        exit_reason VARCHAR, window_id INTEGER NOT NULL, county VARCHAR""",
    "panel_windows": """window_id INTEGER PRIMARY KEY, run_id VARCHAR, kind VARCHAR,
        window_month VARCHAR, effective VARCHAR, made_at TIMESTAMP, params_sha256 VARCHAR,
        members INTEGER, entered INTEGER, exited INTEGER, forced BOOLEAN, note VARCHAR""",
    "panel_changes": """window_id INTEGER NOT NULL, enterprise_id VARCHAR, name VARCHAR,
        city VARCHAR, section VARCHAR, size_class VARCHAR, ownership VARCHAR, action VARCHAR,
        reason VARCHAR, replaces VARCHAR, note VARCHAR""",
    "files": """load_id INTEGER PRIMARY KEY, file_name VARCHAR, sha256 VARCHAR UNIQUE,
        kind VARCHAR, layout VARCHAR, periods VARCHAR, rows INTEGER, loaded INTEGER,
        replaced INTEGER, flagged INTEGER, quarantined INTEGER, loaded_at TIMESTAMP""",
    "reports": _REPORT_DDL,
    "audit": _REPORT_DDL + ", replaced_by INTEGER NOT NULL",
    "report_flags": _PROBLEM_DDL + ", enterprise_id VARCHAR, period VARCHAR",
    "quarantine": """load_id INTEGER NOT NULL, file_name VARCHAR, "row" INTEGER,
        enterprise_id VARCHAR, period VARCHAR, rules VARCHAR, cells VARCHAR""",
    "quarantine_problems": _PROBLEM_DDL,
    "city_reports": _CITY_DDL,
    "city_audit": _CITY_DDL + ", replaced_by INTEGER NOT NULL",
}


@dataclass(frozen=True)
class IngestResult:
    """What one file did to the store."""

    file: str
    status: str  # "loaded" | "already_loaded"
    kind: str
    rows: int
    loaded: int
    replaced: int
    flagged: int
    quarantined: int
    load_id: int | None
    problems: pd.DataFrame
    #: accepted rows identical to the stored row (kept as stored: not replaced, not audited)
    unchanged: int = 0
    #: rejected rows already quarantined with the same cells and rules (not stored again)
    already_quarantined: int = 0

    def line(self) -> str:
        """One summary line for the terminal."""
        if self.status == "already_loaded":
            return (
                f"{self.file}: already loaded (same content, load {self.load_id}); nothing changed"
            )
        extra = (f", unchanged {self.unchanged}" if self.unchanged else "") + (
            f" (of which already quarantined {self.already_quarantined})"
            if self.already_quarantined
            else ""
        )
        return (
            f"{self.file}: {self.rows} rows — loaded {self.loaded}, replaced {self.replaced}, "
            f"flagged {self.flagged}, quarantined {self.quarantined}{extra}"
        )


class StoreError(InputError):
    """The store itself failed (lock held, disk full, damaged file): one message naming the
    store and the cause; the file being loaded was not loaded."""


def store_failure(store: str | Path, exc: BaseException, doing: str = "写入") -> StoreError:
    """One clear message for a DuckDB error: which store, what happened, what to do."""
    text = str(exc)
    low = text.lower()
    if "lock" in low:
        cause = "存储文件被另一个进程占用(可能另一个 ingest 或 notebook 正在使用);请等它结束后重试"
    elif "no space" in low or "disk full" in low or "enospc" in low or "out of space" in low:
        cause = "磁盘空间不足;请清理磁盘后重试"
    elif "read-only" in low or "permission" in low:
        cause = "没有写入权限"
    else:
        cause = "数据库错误"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return StoreError(f"存储 {Path(store)} {doing}失败:{cause}。(DuckDB:{first})")


def _store_path(con: duckdb.DuckDBPyConnection) -> str:
    try:
        rows = con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchall()
        return str(rows[0][0]) if rows and rows[0][0] else "(内存)"
    except duckdb.Error:
        return "(未知)"


@contextlib.contextmanager
def connect(store: str | Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open (creating if needed) a store and make sure its tables exist.

    Raises
    ------
    StoreError
        The store cannot be opened (lock held by another process, no space, no permission).
    """
    path = Path(store)
    if read_only and not path.exists():
        raise InputError(
            f"{path}: store not found; create it with `samplekit ingest ... --store {path}`"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise store_failure(path, exc, "打开") from exc
    try:
        if not read_only:
            try:
                _ensure_schema(con)
            except duckdb.Error as exc:
                raise store_failure(path, exc, "初始化") from exc
        else:
            _refuse_newer(con)
        yield con
    finally:
        con.close()


def _schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The store's ``meta.schema_version`` (None for a store without one: a new file)."""
    if not _has_table(con, "meta"):
        return None
    rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows and str(rows[0][0]).isdigit() else None


def _refuse_newer(con: duckdb.DuckDBPyConnection) -> None:
    """A store written by a newer samplekit is refused, never silently misread."""
    version = _schema_version(con)
    if version is not None and version > int(SCHEMA_VERSION):
        raise StoreError(
            f"{_store_path(con)}:数据库结构版本为 {version},本程序只支持到版本 "
            f"{SCHEMA_VERSION};该数据库由较新版本的 samplekit 写入,请升级 samplekit 后再打开"
        )


def _ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    _refuse_newer(con)
    for table, ddl in SCHEMA.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})").fetchall()
    con.execute(
        "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION]
    ).fetchall()
    # Added after schema 1 (a resubmission's identical rows): older stores get the column.
    con.execute("ALTER TABLE files ADD COLUMN IF NOT EXISTS unchanged INTEGER DEFAULT 0").fetchall()
    # Schema 3: the membership's optional county; schema-2 rows get null (no county given).
    con.execute("ALTER TABLE panel_membership ADD COLUMN IF NOT EXISTS county VARCHAR").fetchall()
    if (_schema_version(con) or 0) < int(SCHEMA_VERSION):
        con.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", [SCHEMA_VERSION]
        ).fetchall()
    old = con.execute(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'panel'"
    ).fetchall()[0][0]
    if old:  # schema 1: one current list -> an import window in force since always
        panel = con.execute("SELECT * FROM panel").df()
        windows = int(con.execute("SELECT COUNT(*) FROM panel_windows").fetchall()[0][0])
        if len(panel) and not windows:
            _import_window(con, panel, note="migrated from schema 1 table panel")
        con.execute("DROP TABLE panel").fetchall()
        con.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", [SCHEMA_VERSION]
        ).fetchall()


# --- panel of record ---------------------------------------------------------------------


@dataclass(frozen=True)
class WindowResult:
    """What one window did to the panel of record."""

    window_id: int
    kind: str
    window_month: str
    effective: str
    members: int
    entered: int
    exited: int
    continued: int
    forced: bool

    def line(self) -> str:
        """One summary line for the terminal (Chinese)."""
        kind = {"design": "抽样设计", "maintenance": "年度调整", "import": "导入名单"}[self.kind]
        forced = ";窗口外强制调整,已记录" if self.forced else ""
        return (
            f"名单版本 {self.window_id}({kind},{self.window_month} 调整,"
            f"{self.effective} 起生效):监测企业 {self.members} 家,保留 {self.continued},"
            f"新入 {self.entered},退出 {self.exited}{forced}"
        )


def _membership(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    # A schema-2 store opened read-only (not migrated) has no county column: null for all.
    has_county = bool(
        con.execute(
            "SELECT COUNT(*) FROM information_schema.columns "
            "WHERE table_name = 'panel_membership' AND column_name = 'county'"
        ).fetchall()[0][0]
    )
    cols = [
        c if c != "county" or has_county else "NULL::VARCHAR AS county" for c in MEMBERSHIP_COLUMNS
    ]
    df = con.execute(
        f"SELECT {', '.join(cols)} FROM panel_membership ORDER BY enterprise_id, valid_from"
    ).df()
    for c in ("enterprise_id", "valid_from", "valid_to", "entry_reason", "exit_reason", "county"):
        df[c] = df[c].astype(object)
        df.loc[df[c].isna(), c] = None
    for c in ("employees", "cell_frame_units", "cell_n"):
        df[c] = df[c].astype("Int64")
    for c in ("individual", "ministry"):
        df[c] = df[c].fillna(False).astype(bool)
    df["window_id"] = df["window_id"].astype("int64")
    return df


def _change_log_of(plan: WindowPlan, previous: pd.DataFrame, window_id: int) -> pd.DataFrame:
    """A change log when the caller gave none: who entered and who left, and why."""
    old = previous.drop_duplicates("enterprise_id", keep="last").set_index("enterprise_id")
    gone = plan.closing[plan.closing["exit_reason"].notna()]
    rows = [
        {
            "enterprise_id": r.enterprise_id,
            **{
                c: old.at[r.enterprise_id, c]
                for c in ("name", "city", "section", "size_class", "ownership")
            },
            "action": "retired",
            "reason": r.exit_reason,
            "replaces": "",
            "note": "",
        }
        for r in gone.itertuples(index=False)
    ]
    new = plan.opening[plan.opening["entry_reason"] != "existing"]
    rows += [
        {
            "enterprise_id": r.enterprise_id,
            "name": r.name,
            "city": r.city,
            "section": r.section,
            "size_class": r.size_class,
            "ownership": r.ownership,
            "action": r.entry_reason,
            "reason": "",
            "replaces": "",
            "note": "",
        }
        for r in new.itertuples(index=False)
    ]
    out = pd.DataFrame(rows, columns=CHANGE_LOG_COLUMNS[1:])
    return out.assign(window_id=window_id)[CHANGE_LOG_COLUMNS]


def _orphaned_reports(
    con: duckdb.DuckDBPyConnection, after: pd.DataFrame, effective: str
) -> pd.DataFrame:
    """Stored reports from ``effective`` on whose enterprise would no longer be in force."""
    stored = con.execute(
        "SELECT enterprise_id, period FROM reports WHERE period >= ?", [effective]
    ).df()
    if not len(stored):
        return stored
    stored["row"] = np.arange(len(stored))
    probs = not_in_panel_problems(stored, after)
    return stored[stored["row"].isin(set(probs["row"].astype(int)))]


def write_window(
    store: str | Path,
    *,
    members: pd.DataFrame,
    window_month: str,
    effective: str | None = None,
    kind: WindowKind = "maintenance",
    run_id: str = "",
    params_sha256: str = "",
    changes: pd.DataFrame | None = None,
    exits: Mapping[str, str] | None = None,
    force: bool = False,
    note: str = "",
) -> WindowResult:
    """Write a new version of the panel of record, in one transaction.

    Every open row is closed at ``effective − 1`` and every member of ``members`` gets a new row
    from ``effective`` (new weights for everyone); leavers' closed rows carry their
    ``exit_reason``. Rows are closed, never overwritten or deleted.

    Parameters
    ----------
    store : path of the DuckDB file (created when missing)
    members : DataFrame
        The new panel in the sample-list layout (``enterprise_id``, ``city``, ``section``,
        ``size_class``, ``ownership``; ``weight``, ``inclusion_prob``, ``calibrated_weight``,
        ``cell_frame_units``, ``cell_n``; ``monthly`` or ``ministry``; ``status``
        retained/new/replacement → ``entry_reason``; ``individual`` for 附表三 units).
    window_month : str
        Month the window is held (``YYYY-MM``; December unless ``force``).
    effective : str, optional
        First month of the new rows; default the month after ``window_month``.
    kind : {"design", "maintenance", "import"}
    run_id, params_sha256, note : str
        Provenance recorded in ``panel_windows``.
    changes : DataFrame, optional
        The change log of the window (``maintenance.CHANGE_COLUMNS``), stored in
        ``panel_changes``; retired / rebalanced members take their exit reason from it.
        Without it a log of entries and exits is derived.
    exits : mapping, optional
        ``enterprise_id -> exit_reason`` (overrides ``changes``); leavers with no reason get
        ``removed``.
    force : bool
        Allow a design or maintenance window outside December (recorded as ``forced``).

    Returns
    -------
    WindowResult

    Raises
    ------
    InputError
        Bad months, kind or columns.
    ValidationError
        A rule is broken (not December without force; effective not after the last window's;
        duplicate ids; weights ≤ 0; overlapping rows; stored reports of a leaver after it
        leaves). The store is unchanged.

    Examples
    --------
    >>> write_window("m.duckdb", members=result.selection.sample, window_month="2012-12",
    ...              changes=result.changes)  # doctest: +SKIP
    """
    effective = effective or (
        next_month(window_month) if MONTH_RE.match(str(window_month)) else window_month
    )
    with connect(store) as con:
        return _write_window(
            con,
            members=members,
            window_month=window_month,
            effective=effective,
            kind=kind,
            run_id=run_id,
            params_sha256=params_sha256,
            changes=changes,
            exits=exits,
            force=force,
            note=note,
        )


def _import_window(
    con: duckdb.DuckDBPyConnection, panel: pd.DataFrame, *, note: str
) -> WindowResult:
    """A list imported as the first panel of record, in force since always (``OPEN_START``)."""
    return _write_window(
        con,
        members=panel,
        window_month=OPEN_START,
        effective=OPEN_START,
        kind="import",
        run_id="",
        params_sha256="",
        changes=None,
        exits=None,
        force=False,
        note=note,
    )


def _write_window(
    con: duckdb.DuckDBPyConnection,
    *,
    members: pd.DataFrame,
    window_month: str,
    effective: str,
    kind: str,
    run_id: str,
    params_sha256: str,
    changes: pd.DataFrame | None,
    exits: Mapping[str, str] | None,
    force: bool,
    note: str,
) -> WindowResult:
    membership = _membership(con)
    windows = con.execute("SELECT * FROM panel_windows ORDER BY window_id").df()
    window_id = int(windows["window_id"].max()) + 1 if len(windows) else 1
    open_rows = membership[membership["valid_to"].isna()]
    opening = membership_rows(
        members,
        effective=effective,
        window_id=window_id,
        existing_ids=set(open_rows["enterprise_id"]),
    )
    validate_window(
        membership,
        windows,
        opening,
        kind=kind,
        window_month=window_month,
        effective=effective,
        force=force,
    )
    plan = plan_window(
        open_rows,
        opening,
        effective=effective,
        exits={**exits_from_changes(changes), **dict(exits or {})},
    )
    after = apply_plan(membership, plan)
    check_no_overlap(after)
    orphans = _orphaned_reports(con, after, effective)
    if len(orphans):
        r = orphans.iloc[0]
        raise ValidationError(
            f"名单未写入:{len(orphans)} 条已入库的报表将不属于当月有效的监测企业(例如 "
            f"{r['enterprise_id']} 的 {r['period']});请先处理这些报表,或调整生效月份",
            problems_frame(
                [
                    Problem(
                        "error",
                        "panel_membership",
                        None,
                        "enterprise_id",
                        str(x.enterprise_id),
                        "report_outside_membership",
                        f"{x.enterprise_id} 在 {x.period} 有报表但不在名单中",
                    )
                    for x in orphans.head(1000).itertuples(index=False)
                ]
            ),
        )
    if changes is not None:
        log = changes.reindex(columns=CHANGE_LOG_COLUMNS[1:]).assign(window_id=window_id)
        log = log[CHANGE_LOG_COLUMNS].astype(dict.fromkeys(CHANGE_LOG_COLUMNS[1:], object))
        log = log.where(log.notna(), "")
    else:
        log = _change_log_of(plan, membership, window_id)
    forced = bool(force and kind != "import" and window_month[5:7] != "12")
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        if len(plan.closing):
            con.register("_closing", plan.closing)
            con.execute(
                "UPDATE panel_membership AS t SET valid_to = c.valid_to, "
                "exit_reason = c.exit_reason FROM _closing c "
                "WHERE t.enterprise_id = c.enterprise_id "
                "AND t.valid_from = c.valid_from AND t.valid_to IS NULL"
            ).fetchall()
            con.unregister("_closing")
        con.register("_opening", plan.opening)
        con.execute(
            f"INSERT INTO panel_membership ({', '.join(MEMBERSHIP_COLUMNS)}) "
            f"SELECT {', '.join(MEMBERSHIP_COLUMNS)} FROM _opening"
        ).fetchall()
        con.unregister("_opening")
        con.execute(
            "INSERT INTO panel_windows VALUES (?, ?, ?, ?, ?, now(), ?, ?, ?, ?, ?, ?)",
            [
                window_id,
                run_id,
                kind,
                window_month,
                effective,
                params_sha256,
                len(plan.opening),
                plan.entered,
                plan.exited,
                forced,
                note,
            ],
        ).fetchall()
        if len(log):
            con.register("_log", log)
            con.execute(
                f"INSERT INTO panel_changes SELECT {', '.join(CHANGE_LOG_COLUMNS)} FROM _log"
            ).fetchall()
            con.unregister("_log")
        con.execute("COMMIT").fetchall()
    except BaseException:
        con.execute("ROLLBACK").fetchall()
        raise
    return WindowResult(
        window_id,
        kind,
        window_month,
        effective,
        len(plan.opening),
        plan.entered,
        plan.exited,
        plan.continued,
        forced,
    )


def seed_from_sample_list(
    store: str | Path,
    sample: str | Path | pd.DataFrame,
    *,
    effective: str = OPEN_START,
    run_id: str = "",
    note: str = "",
) -> WindowResult:
    """Start the panel of record of a store from an existing sample list (kind ``import``).

    Parameters
    ----------
    store : path of the DuckDB file
    sample : path of a sample list (CSV/XLSX) or a DataFrame in that layout
    effective : str
        First month the list is in force; default ``0001-01`` ("since before any report").

    Raises
    ------
    ValidationError
        The store already has a panel of record (use :func:`write_window`), or the list breaks a
        rule (duplicate ids).
    """
    from samplekit.io import read_table as read_any

    name = "sample list"
    if not isinstance(sample, pd.DataFrame):
        name = Path(sample).name
        sample = read_any(sample)
    with connect(store) as con:
        n = int(con.execute("SELECT COUNT(*) FROM panel_windows").fetchall()[0][0])
        if n:
            raise ValidationError(
                f"{store}: 已有 {n} 个名单版本;导入只用于尚无名单的存储,"
                "更换名单请用 samplekit maintain --store",
                problems_frame([]),
            )
        return _write_window(
            con,
            members=sample,
            window_month=effective,
            effective=effective,
            kind="import",
            run_id=run_id,
            params_sha256="",
            changes=None,
            exits=None,
            force=False,
            note=note or f"imported from {name}",
        )


def load_panel(
    store: str | Path, panel: pd.DataFrame, *, force: bool = False, effective: str | None = None
) -> int:
    """Seed the panel of record from a sample list (``ingest --panel``).

    On a store without a panel of record the list is imported (in force from ``0001-01``).
    On a store that has one, the same members again change nothing. A different list is a new
    version of the panel, never an overwrite: it is refused unless ``force`` (a deliberate
    change, already checked for its size by the caller) and ``effective`` (the month it takes
    effect) are given, and then written as an ``import`` window whose rows close the current
    ones. The usual way to change the panel is the December window (``samplekit maintain
    --store``).

    Returns
    -------
    int
        Number of enterprises in the panel.
    """
    if "enterprise_id" not in panel.columns:
        raise InputError(
            f"panel: missing column enterprise_id; found {', '.join(map(str, panel.columns))}"
        )
    ids = panel["enterprise_id"].astype("str").str.strip()
    dups = ids[ids.duplicated()]
    if len(dups):
        raise InputError(
            f"panel: {len(dups)} duplicate enterprise_id(s), e.g. "
            f"{', '.join(dups.head(3))}; each enterprise must appear once"
        )
    with connect(store) as con:
        has = int(con.execute("SELECT COUNT(*) FROM panel_windows").fetchall()[0][0])
        if not has:
            return _import_window(con, panel, note="loaded with load_panel").members
        current = set(
            con.execute("SELECT enterprise_id FROM panel_membership WHERE valid_to IS NULL").df()[
                "enterprise_id"
            ]
        )
        if set(ids) == current:
            return len(current)
        if force and effective is not None:
            return _write_window(
                con,
                members=panel,
                window_month=previous_month(effective),
                effective=effective,
                kind="import",
                run_id="",
                params_sha256="",
                changes=None,
                exits=None,
                force=True,
                note="new list loaded with --force",
            ).members
    raise ValidationError(
        f"{store}: 存储中已有监测名单记录({len(current)} 家),与载入的名单不同;名单只能通过"
        "12月调整窗口更换(samplekit maintain --store),不能整体覆盖;确需整体更换时用 --force "
        "并以 --period 指定新名单生效月份(作为新版本写入,原记录关闭而不删除)",
        problems_frame([]),
    )


def read_membership(store: str | Path) -> pd.DataFrame:
    """Every membership row (``panel.MEMBERSHIP_COLUMNS``), sorted by enterprise_id, valid_from."""
    with connect(store, read_only=True) as con:
        return _membership(con).reset_index(drop=True)


def panel_in_force(store: str | Path, period: str) -> pd.DataFrame:
    """Members in force in month ``period``, in the sample-list layout estimation takes.

    Columns ``panel.IN_FORCE_COLUMNS``: the stratum, weights and fpc counts of the row in force,
    ``ministry`` (and its alias ``monthly``), ``individual``, ``window_id``, ``valid_from``,
    ``valid_to``. Sorted by enterprise_id.
    """
    if not MONTH_RE.match(str(period)):
        raise InputError(f"period '{period}' 不是有效月份;应写作 YYYY-MM,例如 2013-12")
    return sample_layout(in_force(read_membership(store), str(period)))


def read_windows(store: str | Path) -> pd.DataFrame:
    """The windows (``panel.WINDOW_COLUMNS``), in order."""
    with connect(store, read_only=True) as con:
        return con.execute("SELECT * FROM panel_windows ORDER BY window_id").df()


def read_panel_changes(store: str | Path) -> pd.DataFrame:
    """The replacement log of every window (``panel.CHANGE_LOG_COLUMNS``)."""
    with connect(store, read_only=True) as con:
        return con.execute(
            "SELECT * FROM panel_changes ORDER BY window_id, city, section, "
            "size_class, ownership, action, enterprise_id"
        ).df()


def read_panel(store: str | Path) -> pd.DataFrame:
    """Every enterprise of record with its latest membership row, sorted by enterprise_id.

    Compatibility reader for attribute look-ups (name, city, section, individual …) of any
    stored report: an enterprise that left the panel keeps its last row (``valid_to`` set);
    the current members are the rows with ``valid_to`` null. For the members in force in a
    month use :func:`panel_in_force`.
    """
    m = read_membership(store)
    last = m.drop_duplicates("enterprise_id", keep="last")
    cols = [*PANEL_COLUMNS, *[c for c in MEMBERSHIP_COLUMNS if c not in PANEL_COLUMNS]]
    return last[cols].reset_index(drop=True)


# --- ingest ---------------------------------------------------------------------------------


def ingest_file(
    store: str | Path,
    path: str | Path,
    *,
    expected_period: str | None = None,
    rules: ValidationRules | None = None,
    mapping: dict[str, str] | None = None,
    allow_future: bool = False,
) -> IngestResult:
    """Validate one file and load it into the store, atomically and idempotently.

    Parameters
    ----------
    store : path of the DuckDB file (created when missing)
    path : the report file (canonical or 附表一 layout, CSV/XLSX) or a city-table file
    expected_period : str, optional
        ``--period``; it must agree with the month in the title and the file name
        (:func:`samplekit.reports.resolve_period`), and every row must be that month.
    rules : ValidationRules, optional
    mapping : dict, optional
        The city's name → enterprise_id answers for rows given by name only.
    allow_future : bool
        Accept a month after the current one.

    Returns
    -------
    IngestResult

    Raises
    ------
    InputError
        The file cannot be read (nothing is loaded from it).
    StoreError
        The store failed (lock, disk full); nothing is loaded from the file.

    Examples
    --------
    >>> r = ingest_file("monthly.duckdb", "reports_2013-07.csv")  # doctest: +SKIP
    >>> r.line()  # doctest: +SKIP
    'reports_2013-07.csv: 10000 rows — loaded 9998, replaced 0, flagged 41, quarantined 2'
    """
    with connect(store) as con:
        return ingest_into(
            con,
            Path(path),
            expected_period=expected_period,
            rules=rules,
            mapping=mapping,
            allow_future=allow_future,
        )


def panel_members(con: duckdb.DuckDBPyConnection, period: str | None) -> pd.DataFrame:
    """The members in force in ``period`` (``enterprise_id, name, city``): the one place ingest
    and check ask whom a city's rows may name. Without a period (a file of several months),
    every enterprise ever a member, with its latest row."""
    if period is not None:
        return con.execute(
            "SELECT enterprise_id, name, city FROM panel_membership WHERE valid_from <= ? "
            "AND (valid_to IS NULL OR valid_to >= ?) ORDER BY enterprise_id",
            [period, period],
        ).df()
    return con.execute(
        "SELECT enterprise_id, name, city FROM (SELECT *, row_number() OVER (PARTITION BY "
        "enterprise_id ORDER BY valid_from DESC) AS k FROM panel_membership) WHERE k = 1 "
        "ORDER BY enterprise_id"
    ).df()


def ingest_into(
    con: duckdb.DuckDBPyConnection,
    p: Path,
    *,
    expected_period: str | None = None,
    rules: ValidationRules | None = None,
    mapping: dict[str, str] | None = None,
    allow_future: bool = False,
) -> IngestResult:
    """:func:`ingest_file` on an open connection (:func:`connect`), for many files in a row."""
    from samplekit.io import file_sha256
    from samplekit.reports import match_report_names

    try:
        sha = file_sha256(p) if p.exists() else None
        if sha is not None:
            hits = con.execute("SELECT load_id, kind FROM files WHERE sha256 = ?", [sha]).fetchall()
            hit = hits[0] if hits else None
            if hit is not None:
                return IngestResult(
                    p.name, "already_loaded", hit[1], 0, 0, 0, 0, 0, hit[0], problems_frame([])
                )
        rf = read_report_file(p, period=expected_period, allow_future=allow_future)
        membership = con.execute(
            "SELECT enterprise_id, valid_from, valid_to FROM panel_membership"
        ).df()
        members = panel_members(con, rf.expected_period) if rf.kind == "reports" else None
        previous = _previous_for(con, rf) if rf.kind == "reports" else None
    except duckdb.Error as exc:
        raise store_failure(_store_path(con), exc, "读取") from exc
    if rf.kind == "reports":
        rf = match_report_names(rf, panel=members, mapping=mapping)
        found = validate_reports(
            rf.data,
            file=p.name,
            panel_ids=None,
            expected_period=rf.expected_period,
            previous=previous,
            rules=rules,
        )
        if len(membership):  # by month: the members in force in each row's month
            found = pd.concat(
                [found, not_in_panel_problems(rf.data, membership, file=p.name)], ignore_index=True
            )
        else:
            found = pd.concat(
                [
                    found,
                    problems_frame(
                        [
                            Problem(
                                "warning",
                                p.name,
                                None,
                                "enterprise_id",
                                "",
                                "panel_missing",
                                "存储中没有监测名单,未检查企业是否在名单中;请先用 --panel 载入名单",
                            )
                        ]
                    ),
                ],
                ignore_index=True,
            )
    else:
        found = validate_city_reports(rf.data, file=p.name, expected_period=rf.expected_period)
    parts = [x for x in (rf.problems, found) if len(x)]
    problems = problems_frame(pd.concat(parts, ignore_index=True)) if parts else problems_frame([])
    return _load(con, rf, problems)


def _previous_for(con: duckdb.DuckDBPyConnection, rf: ReportFile) -> pd.DataFrame:
    periods = sorted(
        {
            str(p)
            for p in rf.data["period"].dropna().unique()
            if len(str(p)) == 7 and str(p)[4] == "-"
        }
    )
    prev = sorted(
        {previous_period(p) for p in periods if p[5:7].isdigit() and 1 <= int(p[5:7]) <= 12}
    )
    if not prev:
        return pd.DataFrame(columns=["enterprise_id", "period", "survey_employment"])
    marks = ", ".join("?" for _ in prev)
    stored = con.execute(
        f"SELECT enterprise_id, period, survey_employment FROM reports WHERE period IN ({marks})",
        prev,
    ).df()
    # Rows of the same file for an earlier month count too (multi-month files).
    own = rf.data.loc[
        rf.data["period"].isin(prev), ["enterprise_id", "period", "survey_employment"]
    ]
    return pd.concat([stored, own], ignore_index=True)


def _load(con: duckdb.DuckDBPyConnection, rf: ReportFile, problems: pd.DataFrame) -> IngestResult:
    data = rf.data
    bad = rejected_rows(problems)
    rejected = data["row"].isin(bad)
    accepted = data[~rejected]
    warn = problems[(problems["severity"] == "warning") & problems["row"].notna()]
    name = rf.path.name
    periods = ";".join(sorted(set(data["period"].dropna().astype(str))))
    try:
        con.execute("BEGIN TRANSACTION").fetchall()
        load_id = int(
            con.execute("SELECT COALESCE(MAX(load_id), 0) + 1 FROM files").fetchall()[0][0]
        )
        replaced, same_rows = _replace_rows(
            con, "reports" if rf.kind == "reports" else "city", accepted, load_id
        )
        # Rows identical to what is stored were flagged when first loaded: not again.
        warn = warn[~warn["row"].isin(bad | same_rows)]
        flagged_rows = set(warn["row"].astype(int))
        _insert_flags(con, warn, data, load_id, name)
        again = _insert_quarantine(con, rf, data[rejected], problems, bad, load_id)
        con.execute(
            "INSERT INTO files (load_id, file_name, sha256, kind, layout, periods, rows, loaded, "
            "replaced, flagged, quarantined, loaded_at, unchanged) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), ?)",
            [
                load_id,
                name,
                rf.sha256,
                rf.kind,
                rf.layout,
                periods,
                len(data),
                len(accepted),
                replaced,
                len(flagged_rows),
                int(rejected.sum()),
                len(same_rows),
            ],
        ).fetchall()
        con.execute("COMMIT").fetchall()
    except BaseException as exc:
        # After a fatal error (disk full) DuckDB has already aborted the transaction and a
        # ROLLBACK fails with "no transaction is active": that is not the cause to report.
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK").fetchall()
        if isinstance(exc, duckdb.Error):
            raise store_failure(_store_path(con), exc, f"写入 {name} 时") from exc
        raise
    return IngestResult(
        name,
        "loaded",
        rf.kind,
        len(data),
        len(accepted),
        replaced,
        len(flagged_rows),
        int(rejected.sum()),
        load_id,
        problems,
        unchanged=len(same_rows),
        already_quarantined=again,
    )


#: kind -> (table, its audit table, key columns, columns)
_TARGETS = {
    "reports": ("reports", "audit", ("enterprise_id", "period"), REPORT_COLUMNS),
    "city": ("city_reports", "city_audit", ("city", "period"), CITY_COLUMNS),
}


def _replace_rows(
    con: duckdb.DuckDBPyConnection, kind: str, accepted: pd.DataFrame, load_id: int
) -> tuple[int, set[int]]:
    """Insert accepted rows; stored rows they change (same key, other values) move to the
    audit table first. Rows identical to the stored row are left alone (not re-inserted, not
    audited).

    Returns how many stored rows were replaced and the source rows that were unchanged.
    """
    table, audit, keys, columns = _TARGETS[kind]
    df = accepted[columns].copy()
    df["load_id"] = load_id
    df["source_row"] = accepted["row"].to_numpy()
    match = " AND ".join(f"r.{k} = n.{k}" for k in keys)
    values = [c for c in columns if c not in keys]

    # Reductions are stored as reported (NULL or a number); NULL and 0 are the same report.
    def same(c: str) -> str:
        if c in REDUCTION_COLUMNS:
            return f"COALESCE(r.{c}, 0) = COALESCE(n.{c}, 0)"
        return f"r.{c} IS NOT DISTINCT FROM n.{c}"

    identical = " AND ".join(same(c) for c in values)
    con.register("_new", df)
    try:
        same_rows = {
            int(r[0])
            for r in con.execute(
                f"SELECT n.source_row FROM _new n JOIN {table} r ON {match} AND {identical}"
            ).fetchall()
        }
        if same_rows:
            con.unregister("_new")
            df = df[~df["source_row"].isin(same_rows)]
            con.register("_new", df)
        replaced = int(
            con.execute(
                f"SELECT COUNT(*) FROM {table} r JOIN _new n USING ({', '.join(keys)})"
            ).fetchall()[0][0]
        )
        if replaced:
            con.execute(
                f"INSERT INTO {audit} SELECT r.*, ? FROM {table} r SEMI JOIN _new n ON {match}",
                [load_id],
            ).fetchall()
            con.execute(f"DELETE FROM {table} r USING _new n WHERE {match}").fetchall()
        cols = ", ".join([*columns, "load_id", "source_row"])
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _new").fetchall()
    finally:
        con.unregister("_new")
    return replaced, same_rows


def _keyed(problems: pd.DataFrame, data: pd.DataFrame, key: str) -> pd.DataFrame:
    look = data[["row", key, "period"]].drop_duplicates("row")
    out = (
        problems.merge(look, on="row", how="left")
        if len(problems)
        else problems.assign(**{key: None, "period": None})
    )
    return out


def _insert_flags(
    con: duckdb.DuckDBPyConnection, warn: pd.DataFrame, data: pd.DataFrame, load_id: int, name: str
) -> None:
    if not len(warn):
        return
    key = "enterprise_id" if "enterprise_id" in data.columns else "city"
    df = _keyed(warn.assign(row=warn["row"].astype("int64")), data, key)
    df = pd.DataFrame(
        {
            "load_id": load_id,
            "file_name": name,
            "row": df["row"],
            "severity": df["severity"],
            "column": df["column"],
            "value": df["value"],
            "rule": df["rule"],
            "message": df["message"],
            "enterprise_id": df[key],
            "period": df["period"],
        }
    )
    con.register("_flags", df)
    try:
        con.execute("INSERT INTO report_flags SELECT * FROM _flags").fetchall()
    finally:
        con.unregister("_flags")


def _problem_rows(problems: pd.DataFrame, *, load_id: int, file_name: str) -> pd.DataFrame:
    """Problems in the column order of the problem tables (``_PROBLEM_DDL``)."""
    return pd.DataFrame(
        {
            "load_id": load_id,
            "file_name": file_name,
            "row": problems["row"].astype("Int64"),
            "severity": problems["severity"],
            "column": problems["column"],
            "value": problems["value"].astype("str"),
            "rule": problems["rule"],
            "message": problems["message"],
        }
    )


def _insert_quarantine(
    con: duckdb.DuckDBPyConnection,
    rf: ReportFile,
    rejected: pd.DataFrame,
    problems: pd.DataFrame,
    bad: set[int],
    load_id: int,
) -> int:
    """Store rejected rows and their problems; returns how many were already quarantined
    identically (same key, cells and rules) and so were not stored again."""
    name = rf.path.name
    probs = (
        problems[problems["row"].isna() | problems["row"].isin(bad)] if len(problems) else problems
    )
    if len(probs):
        pdf = _problem_rows(probs, load_id=load_id, file_name=name)
        con.register("_qp", pdf)
        try:
            con.execute("INSERT INTO quarantine_problems SELECT * FROM _qp").fetchall()
        finally:
            con.unregister("_qp")
    if not len(rejected):
        return 0
    key = "enterprise_id" if "enterprise_id" in rejected.columns else "city"
    raw = rf.raw.reset_index(drop=True)
    pos = rejected.index.to_numpy()  # rf.data and rf.raw share positions
    err = problems[(problems["severity"] == "error") & problems["row"].isin(bad)]
    rules_by_row = err.groupby("row")["rule"].agg(lambda s: ";".join(sorted(set(s))))
    cells = [
        json.dumps(
            {str(k): (None if pd.isna(v) else str(v)) for k, v in r.items()}, ensure_ascii=False
        )
        for r in raw.iloc[pos].to_dict("records")
    ]
    qdf = pd.DataFrame(
        {
            "load_id": load_id,
            "file_name": name,
            "row": rejected["row"].to_numpy(),
            "enterprise_id": np.array(
                [None if pd.isna(v) else str(v) for v in rejected[key]], dtype=object
            ),
            "period": rejected["period"].astype("str").to_numpy(),
            "rules": rejected["row"].map(rules_by_row).fillna("").to_numpy(),
            "cells": np.array(cells, dtype=object),
        }
    )
    con.register("_q", qdf)
    try:
        again = int(
            con.execute(
                "SELECT COUNT(*) FROM _q n WHERE EXISTS (SELECT 1 FROM quarantine q WHERE "
                "q.enterprise_id IS NOT DISTINCT FROM n.enterprise_id AND q.period IS NOT "
                "DISTINCT FROM n.period AND q.rules = n.rules AND q.cells = n.cells)"
            ).fetchall()[0][0]
        )
        con.execute(
            "INSERT INTO quarantine SELECT * FROM _q n WHERE NOT EXISTS (SELECT 1 FROM "
            "quarantine q WHERE q.enterprise_id IS NOT DISTINCT FROM n.enterprise_id AND "
            "q.period IS NOT DISTINCT FROM n.period AND q.rules = n.rules AND "
            "q.cells = n.cells)"
        ).fetchall()
    finally:
        con.unregister("_q")
    return again


def ingest_files(
    store: str | Path,
    paths: Sequence[str | Path],
    *,
    expected_period: str | None = None,
    rules: ValidationRules | None = None,
    mapping: dict[str, str] | None = None,
    allow_future: bool = False,
) -> list[IngestResult]:
    """Ingest files in order (each in its own transaction), on one connection."""
    with connect(store) as con:
        return [
            ingest_into(
                con,
                Path(p),
                expected_period=expected_period,
                rules=rules,
                mapping=mapping,
                allow_future=allow_future,
            )
            for p in paths
        ]


# --- reading --------------------------------------------------------------------------------


def _where_periods(periods: Sequence[str] | None) -> tuple[str, list[str]]:
    if periods is None:
        return "", []
    periods = list(periods)
    if not periods:
        return " WHERE FALSE", []
    return f" WHERE period IN ({', '.join('?' for _ in periods)})", periods


def read_reports(store: str | Path, periods: list[str] | None = None) -> pd.DataFrame:
    """Accepted reports in the canonical layout (docs/architecture.md), sorted by period and id.

    Reductions are non-negative ``Int64`` (0 when not reported); reason codes nullable
    ``Int64``; ``change_pct`` as reported (``Float64``).

    Examples
    --------
    >>> r = read_reports(demo_store_for(load_params()), ["2013-12"])  # doctest: +SKIP
    """
    where, args = _where_periods(periods)
    with connect(store, read_only=True) as con:
        df = con.execute(
            f"SELECT {', '.join(REPORT_COLUMNS)} FROM reports{where} "
            f"ORDER BY period, enterprise_id",
            args,
        ).df()
    for c in (
        "baseline_employment",
        "survey_employment",
        "change",
        *REDUCTION_COLUMNS,
        *REASON_COLUMNS,
    ):
        df[c] = df[c].astype("Int64")
    for c in REDUCTION_COLUMNS:
        df[c] = df[c].fillna(0)
    df["change_pct"] = df["change_pct"].astype("Float64")
    df["enterprise_id"] = df["enterprise_id"].astype("str")
    df["period"] = df["period"].astype("str")
    return df.reset_index(drop=True)


def read_city_reports(store: str | Path, periods: list[str] | None = None) -> pd.DataFrame:
    """The city table (registered unemployed and rate at both period ends), sorted."""
    where, args = _where_periods(periods)
    with connect(store, read_only=True) as con:
        return con.execute(
            f"SELECT {', '.join(CITY_COLUMNS)} FROM city_reports{where} ORDER BY period, city", args
        ).df()


def read_table(store: str | Path, table: str) -> pd.DataFrame:
    """Any store table (``files``, ``audit``, ``quarantine``, …) in a stable order."""
    if table not in SCHEMA:
        raise InputError(f"unknown store table '{table}'; tables: {', '.join(SCHEMA)}")
    if table in NETWORK_SCHEMA:
        return read_network_table(store, table)
    order = {
        "files": "load_id",
        "panel_membership": "enterprise_id, valid_from",
        "panel_windows": "window_id",
        "panel_changes": "window_id, city, section, size_class, ownership, action, enterprise_id",
        "meta": "key",
        "city_reports": "period, city",
        "city_audit": "replaced_by, period, city",
        "reports": "load_id, period, enterprise_id",
        "audit": "replaced_by, period, enterprise_id",
        "quarantine": 'load_id, "row"',
        "quarantine_problems": 'load_id, "row"',
        "report_flags": 'load_id, "row"',
    }.get(table, "ALL")  # others: every column
    with connect(store, read_only=True) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY {order}").df()


def store_periods(store: str | Path) -> list[str]:
    """Months with at least one accepted report."""
    with connect(store, read_only=True) as con:
        return [
            r[0]
            for r in con.execute("SELECT DISTINCT period FROM reports ORDER BY period").fetchall()
        ]


def table_counts(store: str | Path) -> dict[str, int]:
    """Row count of every table (handy for atomicity checks and summaries)."""
    with connect(store, read_only=True) as con:
        return {t: int(con.execute(f"SELECT COUNT(*) FROM {t}").fetchall()[0][0]) for t in SCHEMA}


def quality_summary(store: str | Path, period: str) -> pd.DataFrame:
    """Per file of ``period``: rows, loaded, replaced, flagged, quarantined, and top rules."""
    with connect(store, read_only=True) as con:
        files = con.execute(
            "SELECT load_id, file_name, kind, layout, rows, loaded, replaced, flagged, quarantined "
            "FROM files WHERE list_contains(string_split(periods, ';'), ?) ORDER BY load_id",
            [period],
        ).df()
        rules = con.execute(
            "SELECT rule, severity, COUNT(*) AS n FROM ("
            " SELECT rule, severity FROM quarantine_problems q JOIN files f USING (load_id)"
            "  WHERE list_contains(string_split(f.periods, ';'), ?)"
            " UNION ALL SELECT rule, severity FROM report_flags WHERE period = ?)"
            " GROUP BY rule, severity ORDER BY n DESC, rule",
            [period, period],
        ).df()
    files.attrs["rules"] = rules
    return files


# --- the monitoring network (issue 13): receipts, side files, warnings ----------------------
# Kept apart from the panel's reports: nothing below is read by estimation.

#: Columns of the side tables (besides ``load_id, source_row``), in order.
EVENT_COLUMNS: list[str] = [
    "record_type",
    "city",
    "firm_name",
    "credit_code",
    "event_date",
    "period",
    "persons",
    "staff",
    "share_pct",
    "type",
    "reason_1",
    "reason_2",
    "reason_3",
    "source",
    "explanation",
    "planned_date",
    "in_panel",
]
NOTE_COLUMNS: list[str] = ["enterprise_id", "period", "note_date", "text"]
INSURED_COLUMNS: list[str] = ["credit_code", "period", "insured", "name"]
INSURANCE_WARNING_COLUMNS: list[str] = [
    "enterprise_id",
    "city",
    "first_period",
    "last_period",
    "months",
    "mean_gap",
    "max_rel_gap",
    "checked_from",
    "checked_to",
]

#: side kind -> (table, key columns, columns)
SIDE_TABLES: dict[str, tuple[str, tuple[str, ...], list[str]]] = {
    "events": ("events", ("record_type", "credit_code", "event_date"), EVENT_COLUMNS),
    "notes": ("special_notes", ("enterprise_id", "period"), NOTE_COLUMNS),
    "insured": ("insured", ("credit_code", "period"), INSURED_COLUMNS),
}

NETWORK_SCHEMA: dict[str, str] = {
    # One row per receipt: a report load (kind 'reports', whole file when city is null, else
    # that city's part of it) or a city's analysis report (kind 'analysis', load_id null).
    "receipts": """kind VARCHAR NOT NULL, load_id INTEGER, city VARCHAR, period VARCHAR,
        received_at TIMESTAMP NOT NULL, source VARCHAR NOT NULL, note VARCHAR,
        recorded_at TIMESTAMP""",
    "side_files": """load_id INTEGER PRIMARY KEY, kind VARCHAR NOT NULL, file_name VARCHAR,
        sha256 VARCHAR, rows INTEGER, loaded INTEGER, replaced INTEGER, flagged INTEGER,
        quarantined INTEGER, loaded_at TIMESTAMP""",
    "side_audit": """kind VARCHAR NOT NULL, record VARCHAR, load_id INTEGER,
        replaced_by INTEGER NOT NULL""",
    "side_quarantine": """kind VARCHAR NOT NULL, load_id INTEGER NOT NULL, file_name VARCHAR,
        "row" INTEGER, rules VARCHAR, cells VARCHAR""",
    "side_problems": "kind VARCHAR NOT NULL, " + _PROBLEM_DDL,
    "events": """record_type VARCHAR NOT NULL, city VARCHAR, firm_name VARCHAR,
        credit_code VARCHAR, event_date VARCHAR, period VARCHAR, persons BIGINT, staff BIGINT,
        share_pct DOUBLE, type VARCHAR, reason_1 SMALLINT, reason_2 SMALLINT, reason_3 SMALLINT,
        source VARCHAR, explanation VARCHAR, planned_date VARCHAR, in_panel BOOLEAN,
        load_id INTEGER NOT NULL, source_row INTEGER""",
    "special_notes": """enterprise_id VARCHAR NOT NULL, period VARCHAR NOT NULL,
        note_date VARCHAR, text VARCHAR, load_id INTEGER NOT NULL, source_row INTEGER""",
    "insured": """credit_code VARCHAR NOT NULL, period VARCHAR NOT NULL, insured BIGINT,
        name VARCHAR, load_id INTEGER NOT NULL, source_row INTEGER""",
    "insurance_warnings": """enterprise_id VARCHAR NOT NULL, city VARCHAR,
        first_period VARCHAR, last_period VARCHAR, months INTEGER, mean_gap DOUBLE,
        max_rel_gap DOUBLE, checked_from VARCHAR, checked_to VARCHAR""",
}
SCHEMA.update(NETWORK_SCHEMA)

_NETWORK_ORDER: dict[str, str] = {
    "receipts": "kind, load_id, city, period, received_at",
    "side_files": "load_id",
    "side_audit": "replaced_by, kind, record",
    "side_quarantine": 'load_id, "row"',
    "side_problems": 'load_id, "row", "column", rule',
    "events": "period, city, record_type, credit_code, event_date",
    "special_notes": "period, enterprise_id",
    "insured": "period, credit_code",
    "insurance_warnings": "city, enterprise_id, first_period",
}


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchall()[0][0]
    )


def read_network_table(store: str | Path, table: str) -> pd.DataFrame:
    """A network table (receipts, events, special_notes, insured, side_*, insurance_warnings).

    A store written before these tables existed gives an empty frame with the right columns.
    """
    if table not in NETWORK_SCHEMA:
        raise InputError(f"unknown network table '{table}'; tables: {', '.join(NETWORK_SCHEMA)}")
    with connect(store, read_only=True) as con:
        if _has_table(con, table):
            return con.execute(f"SELECT * FROM {table} ORDER BY {_NETWORK_ORDER[table]}").df()
    cols = [
        c.strip().split()[0].strip('"')
        for c in re.split(r",(?![^()]*\))", NETWORK_SCHEMA[table])
        if c.strip()
    ]
    return pd.DataFrame(columns=cols)


def record_receipt(
    store: str | Path,
    *,
    received_at: pd.Timestamp | str,
    source: Literal["argument", "file"],
    load_id: int | None = None,
    city: str | None = None,
    period: str | None = None,
    kind: Literal["reports", "analysis"] = "reports",
    note: str | None = None,
) -> None:
    """Record when a report file (or one city's part of it) or an analysis report was received.

    Parameters
    ----------
    received_at : the receipt time (never guessed: the caller says where it came from)
    source : "argument" (given on the command line) or "file" (read from the file)
    load_id : the ``files`` load of a report file (kind "reports")
    city : the city whose part of the file this is; ``None`` = the whole file
    period : the month (or quarter ``YYYYQn`` for a quarterly analysis report); kind "analysis"
    kind : "reports" or "analysis"

    Raises
    ------
    InputError
        The load does not exist, or this receipt was already recorded (receipts are not
        overwritten: a corrected file is a new load with its own receipt).
    """
    record_receipts(
        store,
        pd.DataFrame(
            [
                {
                    "kind": kind,
                    "load_id": load_id,
                    "city": city,
                    "period": period,
                    "received_at": pd.Timestamp(received_at),
                    "source": source,
                    "note": note,
                }
            ]
        ),
    )


def record_receipts(store: str | Path, receipts: pd.DataFrame) -> int:
    """Record many receipts at once (columns of :func:`record_receipt`), all or none.

    Raises
    ------
    InputError
        Naming the first receipt that refers to no load, lacks its city or period, or was
        already recorded (in the store or twice in ``receipts``); nothing is recorded then.
    """
    cols = ["kind", "load_id", "city", "period", "received_at", "source", "note"]
    df = receipts.reindex(columns=cols).copy()
    df["received_at"] = pd.to_datetime(df["received_at"])
    df["load_id"] = df["load_id"].astype("Int64")
    df = df.astype(
        {"kind": object, "city": object, "period": object, "source": object, "note": object}
    ).where(df.notna(), None)
    bad_kind = (
        ~df["kind"].isin(["reports", "analysis"])
        | ~df["source"].isin(["argument", "file"])
        | df["received_at"].isna()
    )
    if bad_kind.any():
        raise InputError(
            f"receipt {df[bad_kind].iloc[0].to_dict()}: kind must be reports or "
            "analysis, source argument or file, and the time given"
        )
    rep = df["kind"] == "reports"
    if (rep & df["load_id"].isna()).any():
        raise InputError("a receipt of a report file needs its load_id (see `samplekit ingest`)")
    if (~rep & (df["city"].isna() | df["period"].isna())).any():
        raise InputError("a receipt of an analysis report needs the city and the period")
    key = df.assign(_k=np.where(rep, df["load_id"].astype(str), df["period"].astype(str)))
    with connect(store) as con:
        loads = set(con.execute("SELECT load_id FROM files").df()["load_id"].astype(int))
        unknown = df[rep & ~df["load_id"].isin(loads)]
        if len(unknown):
            raise InputError(f"{store}: no loaded file with load_id {unknown['load_id'].iloc[0]}")
        stored = con.execute("SELECT kind, load_id, city, period FROM receipts").df()
        stored["_k"] = np.where(
            stored["kind"] == "reports",
            stored["load_id"].astype("Int64").astype(str),
            stored["period"].astype(str),
        )
        both = pd.concat(
            [
                stored[["kind", "_k", "city"]].assign(_new=False),
                key[["kind", "_k", "city"]].assign(_new=True),
            ],
            ignore_index=True,
        )
        both["city"] = both["city"].fillna("\x00")  # the whole file is its own key
        dup = both.duplicated(["kind", "_k", "city"], keep=False) & both["_new"]
        if dup.any():
            first = both[dup].iloc[0]
            city = "" if first["city"] == "\x00" else f" ({first['city']})"
            what = (
                f"load {first['_k']}" if first["kind"] == "reports" else f"{first['_k']} 分析报告"
            )
            raise InputError(
                f"{store}: the receipt of {what}{city} is already recorded; "
                "receipts are never overwritten"
            )
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            con.register("_rc", df)
            con.execute(
                "INSERT INTO receipts SELECT kind, load_id, city, period, received_at, "
                "source, note, now() FROM _rc"
            ).fetchall()
            con.unregister("_rc")
            con.execute("COMMIT").fetchall()
        except BaseException:
            con.execute("ROLLBACK").fetchall()
            raise
    return len(df)


def read_deliveries(store: str | Path, periods: Sequence[str] | None = None) -> pd.DataFrame:
    """Every row the cities delivered, with the load that carried it.

    Returns ``enterprise_id, period, load_id, status`` with status ``accepted`` (in
    ``reports``), ``replaced`` (in ``audit``: replaced by a resubmission) or ``quarantined``.
    """
    where, args = _where_periods(periods)
    with connect(store, read_only=True) as con:
        return con.execute(
            f"SELECT * FROM (SELECT enterprise_id, period, load_id, 'accepted' AS status "
            f"FROM reports UNION ALL SELECT enterprise_id, period, load_id, 'replaced' FROM audit "
            f"UNION ALL SELECT enterprise_id, period, load_id, 'quarantined' FROM quarantine)"
            f"{where} ORDER BY period, enterprise_id, load_id, status",
            args,
        ).df()


def read_row_problems(store: str | Path, periods: Sequence[str] | None = None) -> pd.DataFrame:
    """Problems of delivered rows with the enterprise and month they concern.

    ``load_id, row, enterprise_id, period, severity, rule``: errors of quarantined rows and
    warnings of accepted rows (file-level problems have no enterprise and are left out).
    """
    where, args = _where_periods(periods)
    with connect(store, read_only=True) as con:
        return con.execute(
            'SELECT * FROM (SELECT p.load_id, p."row", q.enterprise_id, q.period, p.severity, '
            "p.rule FROM quarantine_problems p JOIN quarantine q ON p.load_id = q.load_id AND "
            'p."row" = q."row" UNION ALL SELECT load_id, "row", enterprise_id, period, '
            f'severity, rule FROM report_flags){where} ORDER BY load_id, "row", rule',
            args,
        ).df()


def _load_side(
    con: duckdb.DuckDBPyConnection, kind: str, side: Any, data: pd.DataFrame, problems: pd.DataFrame
) -> IngestResult:
    """Load a validated side file: accepted rows in, rejected rows to quarantine, atomically.

    ``data`` holds the typed canonical columns and ``row``; rows with an error are rejected.
    A row with the key of a stored row replaces it; the stored row is kept in ``side_audit``.
    """
    table, keys, columns = SIDE_TABLES[kind]
    hit = con.execute(
        "SELECT load_id FROM side_files WHERE kind = ? AND sha256 = ?", [kind, side.sha256]
    ).fetchall()
    if hit:
        return IngestResult(
            side.path.name, "already_loaded", kind, 0, 0, 0, 0, 0, hit[0][0], problems_frame([])
        )
    bad = rejected_rows(problems)
    rejected = data["row"].isin(bad).to_numpy()
    accepted = data[~rejected]
    warn = problems[(problems["severity"] == "warning") & problems["row"].notna()]
    flagged = len(set(warn["row"].astype(int)) - bad)
    name = side.path.name
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        load_id = int(
            con.execute("SELECT COALESCE(MAX(load_id), 0) + 1 FROM side_files").fetchall()[0][0]
        )
        df = accepted[columns].copy()
        df["load_id"] = load_id
        df["source_row"] = accepted["row"].to_numpy()
        con.register("_side", df)
        try:
            match = " AND ".join(f"r.{k} = n.{k}" for k in keys)
            old = con.execute(f"SELECT r.* FROM {table} r SEMI JOIN _side n ON {match}").df()
            if len(old):
                audit = pd.DataFrame(
                    {
                        "kind": kind,
                        "record": [
                            json.dumps(
                                {k: (None if pd.isna(v) else str(v)) for k, v in r.items()},
                                ensure_ascii=False,
                            )
                            for r in old[columns].to_dict("records")
                        ],
                        "load_id": old["load_id"].to_numpy(),
                        "replaced_by": load_id,
                    }
                )
                con.register("_side_audit", audit)
                con.execute("INSERT INTO side_audit SELECT * FROM _side_audit").fetchall()
                con.unregister("_side_audit")
                con.execute(f"DELETE FROM {table} r USING _side n WHERE {match}").fetchall()
            cols = ", ".join([*columns, "load_id", "source_row"])
            con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _side").fetchall()
        finally:
            con.unregister("_side")
        if len(problems):
            kept = problems[
                problems["row"].isna()
                | problems["row"].isin(bad)
                | (problems["severity"] == "warning")
            ]
            pdf = _problem_rows(kept, load_id=load_id, file_name=name)
            pdf.insert(0, "kind", kind)
            con.register("_sp", pdf)
            con.execute("INSERT INTO side_problems SELECT * FROM _sp").fetchall()
            con.unregister("_sp")
        if rejected.any():
            err = problems[(problems["severity"] == "error") & problems["row"].isin(bad)]
            rules_by_row = err.groupby("row")["rule"].agg(lambda s: ";".join(sorted(set(s))))
            raw = side.raw.reset_index(drop=True)
            pos = np.flatnonzero(rejected)
            cells = [
                json.dumps(
                    {str(k): (None if pd.isna(v) else str(v)) for k, v in r.items()},
                    ensure_ascii=False,
                )
                for r in raw.iloc[pos].to_dict("records")
            ]
            rows = data["row"].to_numpy()[pos]
            qdf = pd.DataFrame(
                {
                    "kind": kind,
                    "load_id": load_id,
                    "file_name": name,
                    "row": rows,
                    "rules": [rules_by_row.get(r, "") for r in rows],
                    "cells": np.array(cells, dtype=object),
                }
            )
            con.register("_sq", qdf)
            con.execute("INSERT INTO side_quarantine SELECT * FROM _sq").fetchall()
            con.unregister("_sq")
        con.execute(
            "INSERT INTO side_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
            [
                load_id,
                kind,
                name,
                side.sha256,
                len(data),
                len(accepted),
                len(old),
                flagged,
                int(rejected.sum()),
            ],
        ).fetchall()
        con.execute("COMMIT").fetchall()
    except BaseException:
        con.execute("ROLLBACK").fetchall()
        raise
    return IngestResult(
        name,
        "loaded",
        kind,
        len(data),
        len(accepted),
        len(old),
        flagged,
        int(rejected.sum()),
        load_id,
        problems,
    )


def _panel_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every enterprise ever a member, with the city of its latest row (side files name firms
    of any month)."""
    return con.execute(
        "SELECT enterprise_id, city FROM (SELECT *, row_number() OVER (PARTITION BY "
        "enterprise_id ORDER BY valid_from DESC) AS k FROM panel_membership) WHERE k = 1 "
        "ORDER BY enterprise_id"
    ).df()


def ingest_events(
    store: str | Path,
    path: str | Path,
    *,
    settings: Any = None,
    cities: Sequence[str] | None = None,
    expected_period: str | None = None,
) -> IngestResult:
    """Validate a file of supplementary records (补充数据, 裁员方案报告) and load it.

    Stored in ``events``, apart from the panel's reports. Rejected rows go to
    ``side_quarantine`` with every problem in ``side_problems``; all or nothing; the same bytes
    twice change nothing; a row with the key (record type, credit code, date) of a stored row
    replaces it and the old row is kept in ``side_audit``.

    Parameters
    ----------
    settings : :class:`samplekit.events.EventSettings`, optional
    cities : the cities of the province (default: the cities of the store's panel)
    expected_period : every event date must fall in this month
    """
    from samplekit.events import EventSettings, read_event_file, validate_events

    side = read_event_file(path)
    with connect(store) as con:
        panel = _panel_frame(con)
        known = list(cities) if cities is not None else sorted(panel["city"].astype(str).unique())
        data, problems = validate_events(
            side.data,
            file=side.path.name,
            cities=known or None,
            panel_ids=panel["enterprise_id"].astype(str).tolist(),
            expected_period=expected_period,
            settings=settings or EventSettings(),
        )
        parts = [p for p in (side.problems, problems) if len(p)]
        problems = (
            problems_frame(pd.concat(parts, ignore_index=True)) if parts else problems_frame([])
        )
        return _load_side(con, "events", side, data, problems)


def ingest_special_notes(store: str | Path, path: str | Path) -> IngestResult:
    """Validate a file of special notes (专项说明) on panel members and load it (as events)."""
    from samplekit.special_notes import read_note_file, validate_notes

    side = read_note_file(path)
    with connect(store) as con:
        panel = _panel_frame(con)
        data, problems = validate_notes(
            side.data, file=side.path.name, panel_ids=panel["enterprise_id"].astype(str).tolist()
        )
        return _load_side(con, "notes", side, data, problems)


def ingest_insured(store: str | Path, path: str | Path) -> IngestResult:
    """Validate a file of insured persons per firm and month (社保参保人数) and load it."""
    from samplekit.insurance import read_insured_file, validate_insured

    side = read_insured_file(path)
    with connect(store) as con:
        data, problems = validate_insured(side.data, file=side.path.name)
        return _load_side(con, "insured", side, data, problems)


def write_insurance_warnings(
    store: str | Path, warnings: pd.DataFrame, *, checked_from: str, checked_to: str
) -> int:
    """Replace the insurance warnings of the checked months with ``warnings`` (one transaction).

    Warnings from an earlier check of the same range are replaced (the check is recomputed from
    the stored reports and insured file, so it has nothing to audit).
    """
    df = warnings.reindex(columns=INSURANCE_WARNING_COLUMNS).copy()
    df["checked_from"], df["checked_to"] = checked_from, checked_to
    with connect(store) as con:
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            con.execute(
                "DELETE FROM insurance_warnings WHERE checked_from = ? AND checked_to = ?",
                [checked_from, checked_to],
            ).fetchall()
            con.register("_iw", df)
            con.execute(
                f"INSERT INTO insurance_warnings SELECT "
                f"{', '.join(INSURANCE_WARNING_COLUMNS)} FROM _iw"
            ).fetchall()
            con.unregister("_iw")
            con.execute("COMMIT").fetchall()
        except BaseException:
            con.execute("ROLLBACK").fetchall()
            raise
    return len(df)


# --- research extracts (issue 18): who took which data, when --------------------------------
#: One row per extract written by ``samplekit extract`` (the file itself is not stored).
EXTRACT_LOG_COLUMNS: list[str] = [
    "extract_id",
    "made_at",
    "who",
    "role",
    "role_name",
    "periods",
    "first_period",
    "last_period",
    "file_name",
    "sha256",
    "rows",
    "firms",
    "min_cell",
    "suppressed",
    "params_sha256",
]
EXTRACT_SCHEMA: dict[str, str] = {
    "extract_log": """extract_id INTEGER PRIMARY KEY, made_at TIMESTAMP NOT NULL,
        who VARCHAR NOT NULL, role VARCHAR NOT NULL, role_name VARCHAR, periods VARCHAR,
        first_period VARCHAR, last_period VARCHAR, file_name VARCHAR, sha256 VARCHAR NOT NULL,
        rows INTEGER, firms INTEGER, min_cell INTEGER, suppressed INTEGER,
        params_sha256 VARCHAR""",
}
SCHEMA.update(EXTRACT_SCHEMA)


def log_extract(
    store: str | Path,
    *,
    who: str,
    role: str,
    role_name: str,
    periods: Sequence[str],
    file_name: str,
    sha256: str,
    rows: int,
    firms: int,
    min_cell: int | None,
    suppressed: int,
    params_sha256: str = "",
    made_at: pd.Timestamp | None = None,
) -> int:
    """Record one extract in ``extract_log``; returns its ``extract_id``.

    ``periods`` are the months extracted (stored ``;``-separated with the first and last);
    ``sha256`` is the checksum of the file handed over, so a file found later can be traced to
    the person, role and time it was made for.
    """
    if not who.strip():
        raise InputError("extract log: 'who' is empty; say who the extract is for (--who)")
    months = sorted(str(p) for p in periods)
    when = pd.Timestamp.now().floor("s") if made_at is None else pd.Timestamp(made_at)
    with connect(store) as con:
        try:
            next_id = int(
                con.execute("SELECT COALESCE(MAX(extract_id), 0) + 1 FROM extract_log").fetchall()[
                    0
                ][0]
            )
            con.execute(
                f"INSERT INTO extract_log ({', '.join(EXTRACT_LOG_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in EXTRACT_LOG_COLUMNS)})",
                [
                    next_id,
                    when.to_pydatetime(),
                    who.strip(),
                    role,
                    role_name,
                    ";".join(months),
                    months[0] if months else None,
                    months[-1] if months else None,
                    file_name,
                    sha256,
                    int(rows),
                    int(firms),
                    None if min_cell is None else int(min_cell),
                    int(suppressed),
                    params_sha256,
                ],
            ).fetchall()
        except duckdb.Error as exc:
            raise store_failure(store, exc) from exc
    return next_id


def read_extract_log(store: str | Path) -> pd.DataFrame:
    """Every logged extract (``EXTRACT_LOG_COLUMNS``), oldest first; empty for an older store."""
    with connect(store, read_only=True) as con:
        if not _has_table(con, "extract_log"):
            return pd.DataFrame(columns=EXTRACT_LOG_COLUMNS)
        return con.execute("SELECT * FROM extract_log ORDER BY extract_id").df()


# --- quarterly labour-use forms (企业用工情况调查表; issue 15) -----------------------------
def _labour_schema() -> str:
    from samplekit.labour_form import COUNT_COLUMNS

    counts = ", ".join(f"{c} BIGINT" for c in COUNT_COLUMNS)
    return (
        f"enterprise_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL, wage_bill DOUBLE, "
        f"average_wage DOUBLE, {counts}, outlook SMALLINT, load_id INTEGER NOT NULL, "
        "source_row INTEGER"
    )


def _register_labour_tables() -> None:
    from samplekit.labour_form import FORM_COLUMNS

    NETWORK_SCHEMA["labour_forms"] = _labour_schema()
    SCHEMA["labour_forms"] = NETWORK_SCHEMA["labour_forms"]
    SIDE_TABLES["labour"] = ("labour_forms", ("enterprise_id", "quarter"), FORM_COLUMNS)
    _NETWORK_ORDER["labour_forms"] = "quarter, enterprise_id"


_register_labour_tables()


def ingest_labour_forms(
    store: str | Path, path: str | Path, *, quarter: str | None = None, rules: Any = None
) -> IngestResult:
    """Validate a file of quarterly labour-use forms and load it into ``labour_forms``.

    Like :func:`ingest_events`: all or nothing, the same bytes twice change nothing, a row with
    the key (enterprise, quarter) of a stored row replaces it (the old row kept in
    ``side_audit``), rejected rows go to ``side_quarantine`` with their problems in
    ``side_problems``. The panel is the store's panel of record (members in force in the
    quarter's last month); the plausibility check reads that month's monthly reports.

    Parameters
    ----------
    quarter : the quarter being loaded (YYYYQn); rows of other quarters are rejected.
    rules : :class:`samplekit.labour_form.FormRules`, optional
    """
    from samplekit.labour_form import (
        FormRules,
        quarter_last_month,
        read_labour_form,
        validate_labour_forms,
    )

    side = read_labour_form(path)
    with connect(store) as con:
        if quarter is not None:
            month = quarter_last_month(quarter)
            panel = panel_members(con, month)["enterprise_id"].astype(str).tolist()
            rep = con.execute(
                "SELECT enterprise_id, survey_employment FROM reports WHERE period = ?", [month]
            ).df()
            headcount = rep.set_index("enterprise_id")["survey_employment"].astype(float)
        else:
            panel = _panel_frame(con)["enterprise_id"].astype(str).tolist()
            headcount = None
        data, problems = validate_labour_forms(
            side.data,
            file=side.path.name,
            quarter=quarter,
            panel_ids=panel,
            headcount=headcount,
            rules=rules or FormRules(),
        )
        parts = [p for p in (side.problems, problems) if len(p)]
        problems = (
            problems_frame(pd.concat(parts, ignore_index=True)) if parts else problems_frame([])
        )
        return _load_side(con, "labour", side, data, problems)


def read_labour_forms(store: str | Path, quarter: str | None = None) -> pd.DataFrame:
    """Accepted quarterly labour-use forms (all quarters, or one)."""
    forms = read_network_table(store, "labour_forms")
    if quarter is not None:
        forms = forms.loc[forms["quarter"] == quarter].reset_index(drop=True)
    return forms

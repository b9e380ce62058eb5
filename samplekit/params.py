"""Load and validate one params YAML into a typed, read-only object.

A params file describes one job (a design, a month, a quarter). Its top-level keys are fixed
(:data:`TOP_LEVEL_KEYS`); each section is validated by the module that uses it, through the
accessors here, so every error names the file and the dotted key.

YAML 1.1 surprises are disabled: ``NO``/``yes``/``on`` stay strings, ``010`` stays the string
``"010"`` (codes keep their leading zeros) and only ``true``/``false`` are booleans.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from samplekit.errors import ParamsError
from samplekit.paths import params_dir, resolve
from samplekit.periods import MONTH_RE, QUARTER_RE

#: Allowed top-level keys of a params file, with what each holds.
TOP_LEVEL_KEYS: dict[str, str] = {
    "name": "job name (used for output folders)",
    "title": "title shown in reports (Chinese)",
    "seed": "province-level seed: permanent random numbers and demo generators",
    "period": "reporting month YYYY-MM (monthly tables and notebook 03)",
    "quarter": "reporting quarter YYYYQn (warning notebooks 04, 05)",
    "demo": "true: null input paths use synthetic demo data (a rehearsal, marked in every output); "
    "default: only for the demo province",
    "province": "province name and city table (yearbook figures)",
    "frame": "enterprise register: a file, or the demo generator settings",
    "panel": "existing panel: a file, or taken from the register's in_panel column",
    "allocation": "sample size, apportionment, rules, monthly subsample, precision",
    "selection": "PRN selection, calibration, reserves, December window",
    "monthly": "monthly reports: validation thresholds, store, demo history, reporting calendar, "
    "supplementary records, special notes, social-insurance cross-check",
    "warning": "indicators, warning lines and levels, forecasts, back-test",
    "backtest": "a stand-alone warning rule for `samplekit backtest`",
    "evaluation": "quarterly evaluation of cities (考核通报): weights, penalties, grades",
    "deep_dive": "a topical deep dive (典型分析): the domain filter (cities, sections, size "
    "classes, ownerships, minimum export share, firms), indicators and quarters (notebook 09)",
    "extracts": "research extracts (`samplekit extract`): roles, what each may see, small-cell "
    "threshold, terms of use",
    "release": "quarterly public release: labour-use form checks, disclosure control, symbols",
}

DEFAULT_PARAMS = "guangdong_2013.yaml"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like scalars: fewer booleans, no octal or sexagesimal ints."""


_StrictLoader.yaml_implicit_resolvers = {
    key: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+"
        r"|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file with the strict loader; errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"params file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not UTF-8 text ({exc}); save the file as UTF-8") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - strict SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: invalid YAML: {exc}") from None


_MISSING = object()


@dataclass(frozen=True)
class Params:
    """A validated params file.

    Parameters
    ----------
    path : Path
        The file it came from (errors name it).
    data : dict
        The parsed mapping; read it through :meth:`get` so errors carry the key.
    """

    path: Path
    data: Mapping[str, Any] = field(repr=False)

    # ------------------------------------------------------------------ access
    def get(
        self, key: str, default: Any = _MISSING, *, types: type | tuple[type, ...] | None = None
    ) -> Any:
        """Value at a dotted ``key`` ("allocation.total"); ``default`` when absent.

        Raises :class:`ParamsError` naming the file and key when the key is required and absent,
        or when the value is not of ``types``.
        """
        node: Any = self.data
        parts = key.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, Mapping) or part not in node or node[part] is None:
                if default is _MISSING:
                    where = ".".join(parts[: i + 1])
                    raise ParamsError(f"{self.path}: required key '{where}' is missing")
                return default
            node = node[part]
        if types is not None:
            ok = isinstance(node, types) and not (
                isinstance(node, bool)
                and bool not in (types if isinstance(types, tuple) else (types,))
            )
            if not ok:
                names = (
                    types.__name__
                    if isinstance(types, type)
                    else " or ".join(t.__name__ for t in types)
                )
                raise ParamsError(
                    f"{self.path}: key '{key}' must be {names}, found {node!r} "
                    f"({type(node).__name__})"
                )
        return copy.deepcopy(node)

    def number(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        low: float | None = None,
        high: float | None = None,
    ) -> float:
        """A number at ``key``, optionally bounded (inclusive)."""
        value = self.get(key, default, types=(int, float))
        if value is None:
            return value
        if (low is not None and value < low) or (high is not None and value > high):
            raise ParamsError(f"{self.path}: key '{key}' = {value} is outside [{low}, {high}]")
        return value

    def choice(
        self, key: str, options: list[str] | tuple[str, ...], default: Any = _MISSING
    ) -> str:
        """A string at ``key`` that must be one of ``options``."""
        value = self.get(key, default, types=str)
        if value not in options:
            raise ParamsError(
                f"{self.path}: key '{key}' = {value!r} is not one of {', '.join(options)}"
            )
        return value

    def section(self, name: str) -> dict[str, Any]:
        """A whole top-level section (empty dict when absent)."""
        value = self.get(name, {})
        if not isinstance(value, Mapping):
            raise ParamsError(f"{self.path}: '{name}' must be a mapping, found {value!r}")
        return dict(value)

    def path_of(self, key: str, default: Any = _MISSING) -> Path | None:
        """A file path at ``key``, resolved against the project root; None when absent/null."""
        value = self.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ParamsError(f"{self.path}: key '{key}' must be a path string, found {value!r}")
        return resolve(value)

    def check_keys(self, section: str, allowed: set[str] | dict[str, Any]) -> None:
        """Refuse unknown keys in ``section`` (a typo silently ignored is a wrong design)."""
        found = set(self.section(section))
        unknown = sorted(found - set(allowed))
        if unknown:
            raise ParamsError(
                f"{self.path}: unknown key(s) {', '.join(repr(k) for k in unknown)} in "
                f"'{section}'; allowed: {', '.join(sorted(allowed))}"
            )

    def digest(self, keys: tuple[str, ...] | None = None) -> str:
        """SHA-256 of the canonical JSON of the data, or of the top-level ``keys`` only
        (for caches and provenance)."""
        data = self.data if keys is None else {k: self.data.get(k) for k in keys}
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def with_overrides(self, **overrides: Any) -> Params:
        """A copy with top-level keys replaced (``None`` values are ignored)."""
        data = dict(self.data)
        for key, value in overrides.items():
            if value is not None:
                _check_top_key(self.path, key)
                data[key] = value
        return Params(self.path, data)


def _check_top_key(path: Path, key: str) -> None:
    if key not in TOP_LEVEL_KEYS:
        raise ParamsError(
            f"{path}: unknown top-level key '{key}'; allowed: {', '.join(TOP_LEVEL_KEYS)}"
        )


def load_params(
    path: str | Path | None = None, *, validate: bool = True, **overrides: Any
) -> Params:
    """Read a params YAML file and check its top level.

    Parameters
    ----------
    path : str or Path, optional
        The file; relative paths resolve against the project root. Default: the demo params
        ``params/guangdong_2013.yaml``.
    validate : bool
        Check every section with the settings class of the step that uses it (default).
    **overrides
        Top-level keys to replace (e.g. ``quarter="2013Q3"`` injected by papermill).

    Returns
    -------
    Params

    Examples
    --------
    >>> p = load_params()
    >>> p.get("allocation.total")
    10000
    """
    p = resolve(path) if path is not None else params_dir() / DEFAULT_PARAMS
    data = read_yaml(p)
    if not isinstance(data, Mapping):
        raise ParamsError(
            f"{p}: the top level must be a mapping of keys, found {type(data).__name__}"
        )
    for key in data:
        _check_top_key(p, str(key))
    params = Params(p, dict(data)).with_overrides(**overrides)
    period = params.get("period", None)
    if period is not None and not (isinstance(period, str) and MONTH_RE.match(period)):
        raise ParamsError(f"{p}: key 'period' = {period!r} must be a quoted month like \"2013-12\"")
    quarter = params.get("quarter", None)
    if quarter is not None and not (isinstance(quarter, str) and QUARTER_RE.match(quarter)):
        raise ParamsError(f"{p}: key 'quarter' = {quarter!r} must be like \"2013Q4\"")
    if validate:
        # Every section now, so a typo deep in the file fails before any step runs.
        from samplekit.jobs import validate as validate_sections

        validate_sections(params)
    return params


def load_optional_params(path: str | Path | None) -> Params | None:
    """:func:`load_params` of ``path``, or None when no file is given (commands whose params
    only tune defaults: each settings class reads None as "all defaults")."""
    return None if path is None else load_params(path)

"""Run notebooks with papermill, record provenance, and verify a run by re-executing it.

A *run* executes one or more notebooks against one params file into one output folder::

    OUT/<stem>.ipynb      the executed notebook (kept, partially executed, when it fails)
    OUT/<stem>.html       a code-hidden HTML copy for readers
    OUT/...               the tables and figures the notebooks write (they get ``out_dir = OUT``)
    OUT/provenance.json   what was run, on what, with which code, and what came out

:mod:`samplekit.verify` re-executes a run from its ``provenance.json`` and compares the tables.

Parameters injected into a notebook: ``params_file`` (absolute path), ``out_dir`` (absolute path
of the run folder) and every other declared parameter taken from the top-level scalar key of the
same name in the params file (``period``, ``quarter``). A notebook declaring anything else is
refused before any notebook starts, so the params file stays the single source of a run's settings.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from samplekit import __version__
from samplekit.cache import code_fingerprint
from samplekit.cache import input_files as cache_input_files
from samplekit.errors import InputError, ParamsError
from samplekit.io import file_sha256
from samplekit.params import TOP_LEVEL_KEYS, Params, load_params
from samplekit.paths import (
    notebooks_dir,
    params_dir,
    project_root,
    reports_dir,
    resolve,
)

PROVENANCE_FILE = "provenance.json"
PROVENANCE_FORMAT = 1
KERNEL_NAME = "python3"
#: Default per-cell execution timeout, seconds (a cell running longer is stopped and reported).
DEFAULT_TIMEOUT = 1800
#: Parameters every notebook declares; the runner supplies them itself.
RUNNER_PARAMETERS = ("params_file", "out_dir")
#: File types compared by :func:`verify_run` (notebooks, HTML and images are not compared).
TABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")
#: Versions recorded in provenance (whichever are installed).
KEY_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "duckdb",
    "openpyxl",
    "pyarrow",
    "matplotlib",
    "pyyaml",
    "papermill",
    "nbclient",
    "nbconvert",
    "ipykernel",
    "mplfonts",
)

PreStep = Callable[[Params, Path], object]


#: Named steps that may run before the notebooks of a run, ``name -> fn(params, out_dir)``
#: (e.g. writing sample lists through the CLI code). Provenance records their names, so
#: :func:`verify_run` re-runs them too.
def _warm(params: Params, out: Path) -> object:
    """Build the cached inputs every notebook reads (register, selection, the store) once,
    before notebooks run side by side."""
    from samplekit import jobs

    return jobs.warm(params)


PRE_STEPS: dict[str, PreStep] = {"warm": _warm}
#: Pre-steps ``samplekit demo`` runs, in order.
DEMO_PRE_STEPS: tuple[str, ...] = ("warm",)
#: Notebooks ``samplekit demo`` runs side by side (the machine's two cores).
DEMO_WORKERS = 2

Status = Literal["ok", "failed", "not run"]


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class CellFailure:
    """Where and how a notebook failed.

    ``cell`` is the 1-based position of the failing cell in the source notebook (the cell papermill
    injects is not counted); ``execution_count`` is the ``In [n]`` number shown in Jupyter.
    """

    cell: int | None
    execution_count: int | None
    first_line: str
    ename: str
    evalue: str

    def describe(self) -> str:
        where = (
            f"第 {self.cell} 个单元格(cell {self.cell})"
            if self.cell is not None
            else "启动时,尚未运行任何单元格(内核或 notebook 出错)"
        )
        if self.execution_count is not None:
            where += f" (In [{self.execution_count}])"
        line = f" `{self.first_line}`" if self.first_line else ""
        return f"{where}{line}: {self.ename}: {self.evalue}".rstrip(": ")


@dataclass(frozen=True)
class NotebookResult:
    """The outcome of one notebook in a run."""

    notebook: Path
    output: Path
    html: Path | None
    parameters: dict[str, Any]
    status: Status
    seconds: float = 0.0
    failure: CellFailure | None = None

    def message(self) -> str:
        """One line for the terminal."""
        if self.status == "ok":
            return f"{self.notebook.name}:完成({self.seconds:.1f} 秒)→ {self.output}"
        if self.status == "not run":
            return f"{self.notebook.name}:未运行(前面的 notebook 失败)"
        where = self.failure.describe() if self.failure else "未知位置"
        kept = (
            f"已运行部分保存在 {self.output}"
            if self.output.exists()
            else "没有写出运行后的 notebook"
        )
        return f"notebook {self.notebook} 失败于{where};{kept}"


@dataclass(frozen=True)
class RunResult:
    """The outcome of :func:`run_notebooks`."""

    out_dir: Path
    provenance: Path
    notebooks: list[NotebookResult]
    outputs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(nb.status == "ok" for nb in self.notebooks)

    @property
    def failures(self) -> list[NotebookResult]:
        return [nb for nb in self.notebooks if nb.status == "failed"]


# ---------------------------------------------------------------------------- notebook checks
def read_notebook(path: Path) -> Any:
    """Read a notebook file (nbformat v4); :class:`InputError` naming it when unreadable."""
    import nbformat

    try:
        return nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise InputError(f"notebook not found: {path}") from None
    except Exception as exc:  # nbformat's own message, with the file named
        raise InputError(f"{path}: not a readable Jupyter notebook: {exc}") from exc


def parameters_cells(nb: Any) -> list[int]:
    """Indices of the code cells tagged ``parameters``."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", [])
    ]


def parameters_cell_problems(notebook: str | os.PathLike[str]) -> list[str]:
    """Check the notebook's ``parameters`` cell; return one message per problem (empty: fine).

    Rules: exactly one code cell tagged ``parameters``; it holds only annotated assignments
    ``name: type = literal`` to a plain name, one per line, with a literal value (what papermill
    can override and ``papermill --help-notebook`` can list).
    """
    path = Path(notebook)
    nb = read_notebook(path)
    cells = parameters_cells(nb)
    if len(cells) != 1:
        where = ", ".join(str(i + 1) for i in cells) or "none"
        return [
            f"{path}: expected exactly one code cell tagged 'parameters', found "
            f"{len(cells)} (cells {where}); tag the first code cell 'parameters'"
        ]
    source = nb.cells[cells[0]].source
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"{path}: parameters cell line {exc.lineno}: syntax error: {exc.msg}"]
    problems = []
    lines_seen: set[int] = set()
    for stmt in tree.body:
        line = source.splitlines()[stmt.lineno - 1].strip()
        if not (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and stmt.value is not None
        ):
            problems.append(
                f"{path}: parameters cell line {stmt.lineno} `{line}` is not an "
                "annotated assignment `name: type = literal`; move it to the next cell"
            )
            continue
        try:
            ast.literal_eval(stmt.value)
        except ValueError:
            problems.append(
                f"{path}: parameters cell line {stmt.lineno} `{line}`: the value is "
                "not a literal; compute derived values in the next cell"
            )
        if stmt.lineno in lines_seen or stmt.end_lineno != stmt.lineno:
            problems.append(
                f"{path}: parameters cell line {stmt.lineno} `{line}`: one parameter "
                "per line, on a single line"
            )
        lines_seen.add(stmt.lineno)
    return problems


def notebook_parameters(notebook: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Parameters the notebook declares, as reported by ``papermill.inspect_notebook``.

    A notebook saved without ``kernelspec`` metadata (papermill then refuses to guess the
    language) is read with papermill's Python translator, as the ``python3`` kernel runs it.
    """
    import papermill

    path = Path(notebook)
    nb = read_notebook(path)
    if nb.metadata.get("kernelspec", {}).get("name"):
        return papermill.inspect_notebook(str(path))
    from papermill.translators import PythonTranslator

    cells = parameters_cells(nb)
    if not cells:
        return {}
    return {p.name: p._asdict() for p in PythonTranslator.inspect(nb.cells[cells[0]])}


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def plan_parameters(
    notebook: str | os.PathLike[str], params: Params, out_dir: Path
) -> dict[str, Any]:
    """The parameters to inject into ``notebook`` for a run of ``params`` into ``out_dir``.

    Parameters
    ----------
    notebook : path
        The notebook; its declared parameters come from ``papermill.inspect_notebook``.
    params : Params
        The validated params file.
    out_dir : Path
        The run's output folder (injected as an absolute path).

    Returns
    -------
    dict
        ``params_file`` and ``out_dir`` (absolute paths) and, for every other declared parameter,
        the top-level scalar value of the same name in the params file.

    Raises
    ------
    ParamsError
        Naming the notebook and every parameter that cannot be supplied: not declared
        ``params_file`` / ``out_dir``, a declared name that is not a top-level params key, or one
        the params file lacks or holds as a mapping/list.
    """
    path = Path(notebook)
    declared = notebook_parameters(path)
    problems = [
        f"{path}: does not declare parameter '{name}' in its parameters cell; every "
        f"notebook declares {' and '.join(RUNNER_PARAMETERS)}"
        for name in RUNNER_PARAMETERS
        if name not in declared
    ]
    injected: dict[str, Any] = {
        "params_file": str(Path(params.path).resolve()),
        "out_dir": str(Path(out_dir).resolve()),
    }
    for name in declared:
        if name in RUNNER_PARAMETERS:
            continue
        if name not in TOP_LEVEL_KEYS:
            problems.append(
                f"{path}: declares parameter '{name}', which is neither "
                f"{' nor '.join(RUNNER_PARAMETERS)} nor a top-level params key "
                f"({', '.join(TOP_LEVEL_KEYS)}); derive it from the params in the cell after "
                "the parameters cell"
            )
            continue
        value = params.data.get(name)
        if value is None:
            problems.append(
                f"{path}: declares parameter '{name}' but {params.path} has no top-level "
                f"'{name}'; add `{name}: ...` to the params file"
            )
        elif not _is_scalar(value):
            problems.append(
                f"{path}: declares parameter '{name}' but '{name}' in {params.path} is a "
                f"{type(value).__name__}, not a single value"
            )
        else:
            injected[name] = value
    if problems:
        raise ParamsError("\n".join(problems))
    return injected


def locate(path: str | os.PathLike[str]) -> Path:
    """An absolute path for a user-typed ``path``: relative to the working directory when it
    exists there, else to the project root (so ``notebooks/…`` and ``params/…`` work anywhere)."""
    p = Path(path).expanduser()
    return p.resolve() if p.is_absolute() or p.exists() else resolve(p)


# ---------------------------------------------------------------------------- provenance pieces
def _utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _display_path(path: Path) -> str:
    """Project-relative POSIX path when inside the project (portable to a reviewer's clone)."""
    path = Path(path).resolve()
    try:
        return path.relative_to(project_root().resolve()).as_posix()
    except ValueError:
        return str(path)


def git_state(root: Path | None = None) -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the project checkout, or None outside git.

    Read-only: ``--no-optional-locks`` keeps ``git status`` from rewriting the index.
    """
    root = root or project_root()
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(root), "status", "--porcelain"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {
        "commit": head.stdout.strip(),
        "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None,
    }


def environment_versions() -> dict[str, Any]:
    """Python, platform and key package versions."""
    packages = {"samplekit": __version__}
    for name in KEY_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "platform": platform.platform(),
        "packages": packages,
    }


def input_files(params: Params) -> list[dict[str, str]]:
    """Every file the params name and every reference table, with its hash (project-relative
    paths): what :func:`samplekit.cache.input_files` keys caches by, recorded in provenance."""
    return [
        {**entry, "path": _display_path(Path(entry["path"]))} for entry in cache_input_files(params)
    ]


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in folder.rglob("*")
        if p.is_file()
    }


def _outputs_since(folder: Path, before: Mapping[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """Files new or rewritten in ``folder`` since ``before`` (stale files of older runs excluded)."""
    rows = []
    for rel, stamp in sorted(_snapshot(folder).items()):
        if rel == PROVENANCE_FILE or Path(rel).name.startswith("."):
            continue
        if before.get(rel) == stamp:
            continue
        rows.append({"path": rel, "sha256": file_sha256(folder / rel), "bytes": stamp[1]})
    return rows


def _failure_from_exception(exc: BaseException, output: Path) -> CellFailure:
    """Locate the failing cell: papermill's error names it; timeouts are found in the partial
    notebook (the last cell that started)."""
    from papermill.exceptions import PapermillExecutionError

    nb = None
    try:
        nb = read_notebook(output)
    except InputError:
        pass
    index = getattr(exc, "cell_index", None) if isinstance(exc, PapermillExecutionError) else None
    if nb is not None and index is None:
        started = [
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code"
            and c.get("metadata", {}).get("papermill", {}).get("start_time")
        ]
        index = started[-1] if started else None
    cell_number = execution_count = None
    first_line = ""
    if nb is not None and index is not None and index < len(nb.cells):
        cells = nb.cells
        if isinstance(exc, PapermillExecutionError):
            # The error's index counts cells before papermill added its two error-marker cells
            # to the saved file; drop them to index the same list.
            cells = [
                c
                for c in nb.cells
                if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])
            ]
        if index < len(cells):
            injected_before = sum(
                "injected-parameters" in c.get("metadata", {}).get("tags", [])
                for c in cells[:index]
            )
            cell_number = index - injected_before + 1
            execution_count = cells[index].get("execution_count")
            first_line = next(
                (ln.strip() for ln in cells[index].source.splitlines() if ln.strip()), ""
            )
    if isinstance(exc, PapermillExecutionError):
        ename, evalue = exc.ename, exc.evalue
    else:
        lines = str(exc).strip().splitlines()
        ename, evalue = type(exc).__name__, lines[0] if lines else ""
    return CellFailure(
        cell=cell_number,
        execution_count=execution_count,
        first_line=first_line[:120],
        ename=ename,
        evalue=str(evalue)[:500],
    )


@contextlib.contextmanager
def _this_python_kernel() -> Iterator[None]:
    """Make kernel ``python3`` resolve to this environment's own kernel spec.

    A ``python3`` spec earlier on the Jupyter path (``$JUPYTER_PATH``, or a user-level one when
    Jupyter does not prefer the environment) may start another Python without samplekit;
    putting ``{sys.prefix}/share/jupyter`` first makes the notebooks run with the interpreter
    that runs samplekit.
    """
    own = Path(sys.prefix) / "share" / "jupyter"
    old = os.environ.get("JUPYTER_PATH")
    if not (own / "kernels" / KERNEL_NAME).is_dir():
        yield  # jupyter_client falls back to ipykernel's built-in spec (this interpreter)
        return
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(own)] + ([old] if old else []))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


#: Environment variables that cap the BLAS / OpenMP threads of a notebook kernel.
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


#: BLAS threads of every notebook kernel (and of the runner while notebooks run).
KERNEL_BLAS_THREADS = 1


def blas_threads(workers: int) -> int:
    """BLAS threads each notebook kernel uses: one, whatever ``workers`` and the core count.

    * Side by side, two kernels each running a two-thread OpenBLAS on two cores spin-wait on
      each other (measured on the 2-core machine: a 96 × 96 ``pinv`` 6 times, a 10 000 × 96
      ``gemm`` 11 times slower than with one thread).
    * OpenBLAS splits some reductions between its threads, so the last digit of a variance
      depended on the machine's core count; with one thread a notebook gives the same bits
      on every machine, run alone (``samplekit run``) or in the demo.
    """
    del workers  # the same for every run: results must not depend on how they were scheduled
    return KERNEL_BLAS_THREADS


@contextlib.contextmanager
def _thread_share(threads: int | None) -> Iterator[None]:
    """Kernels started inside inherit ``threads`` BLAS threads; this process (the pre-steps
    run here) is limited the same way while the block runs (None: leave the defaults)."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    old = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: str(threads) for k in _THREAD_VARS})
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def export_html(notebook: Path, html: Path) -> Path:
    """Write a code-hidden HTML copy of an executed notebook (inputs and prompts excluded)."""
    import nbconvert

    exporter = nbconvert.HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(read_notebook(notebook))
    html.write_text(body, encoding="utf-8")
    return html


def _write_json(data: Mapping[str, Any], path: Path) -> None:
    from samplekit.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(
            json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )


# ---------------------------------------------------------------------------- run
def run_notebooks(
    notebooks: Sequence[str | os.PathLike[str]],
    params_file: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
    progress: bool = False,
    html: bool = True,
    keep_going: bool = False,
    pre_steps: Sequence[str] = (),
    workers: int = 1,
    echo: Callable[[str], None] | None = None,
) -> RunResult:
    """Execute notebooks with papermill into ``out_dir`` and write ``provenance.json``.

    Parameters
    ----------
    notebooks : sequence of paths
        Notebooks, run in the given order. Each must have exactly one ``parameters`` cell.
    params_file : path
        The params YAML; validated with :func:`samplekit.params.load_params` before anything runs
        (relative paths resolve against the project root).
    out_dir : path
        The run folder (created). Executed notebooks are written as ``<stem>.ipynb``.
    timeout : float or None
        Per-cell execution timeout in seconds (None: no limit).
    progress : bool
        Show papermill's per-cell progress bar (on stderr).
    html : bool
        Also write a code-hidden ``<stem>.html`` per notebook.
    keep_going : bool
        Run the remaining notebooks after one fails (default: stop; later ones are "not run").
    pre_steps : sequence of str
        Names in :data:`PRE_STEPS` to run before the notebooks.
    workers : int
        Notebooks executed side by side (each in its own kernel). With more than one, every
        notebook runs (``keep_going`` is implied) and shared inputs should be cached first
        (pre-step ``warm``).
    echo : callable, optional
        Receives one status line per notebook (the CLI prints them).

    Returns
    -------
    RunResult
        ``ok`` is False when a notebook failed; its :class:`CellFailure` names the cell. The
        partial executed notebook and ``provenance.json`` (``status: failed``) are written anyway.

    Raises
    ------
    ParamsError, InputError
        Before any notebook runs: invalid params, unreadable notebook, a malformed parameters
        cell, a parameter that cannot be supplied, two notebooks with the same name, unknown
        pre-step.

    Examples
    --------
    >>> result = run_notebooks(["notebooks/00_frame_overview.ipynb"],
    ...                        "params/guangdong_2013.yaml", "reports/overview")  # doctest: +SKIP
    >>> result.ok  # doctest: +SKIP
    True
    """
    import papermill

    say = echo or (lambda _msg: None)
    params = load_params(locate(params_file))
    out = Path(out_dir).expanduser().resolve()
    paths = [locate(nb) for nb in notebooks]
    if not paths:
        raise InputError("no notebooks given to run")
    # Pre-flight: every problem of every notebook, before anything runs.
    problems: list[str] = []
    stems: dict[str, Path] = {}
    for nb in paths:
        if not nb.is_file():
            problems.append(f"notebook not found: {nb}")
            continue
        problems += parameters_cell_problems(nb)
        if nb.stem in stems:
            problems.append(
                f"two notebooks named '{nb.stem}' ({stems[nb.stem]} and {nb}) would "
                f"write the same {nb.stem}.ipynb; rename one"
            )
        stems[nb.stem] = nb
    unknown = [s for s in pre_steps if s not in PRE_STEPS]
    if unknown:
        problems.append(
            f"unknown pre-step(s) {', '.join(unknown)}; known: {', '.join(PRE_STEPS) or 'none'}"
        )
    if problems:
        raise InputError("\n".join(problems))
    plans = {nb: plan_parameters(nb, params, out) for nb in paths}
    # Validate the injected values the way the notebook's set-up cell will.
    for injected in plans.values():
        load_params(
            params.path, **{k: v for k, v in injected.items() if k not in RUNNER_PARAMETERS}
        )

    out.mkdir(parents=True, exist_ok=True)
    before = _snapshot(out)
    started = _utc_now()
    provenance: dict[str, Any] = {
        "format": PROVENANCE_FORMAT,
        "status": "running",
        "samplekit_version": __version__,
        "git": git_state(),
        "code": code_fingerprint(),
        "started": started,
        "finished": None,
        "options": {
            "kernel": KERNEL_NAME,
            "timeout": timeout,
            "html": html,
            "keep_going": keep_going,
            "pre_steps": list(pre_steps),
            "workers": workers,
            "blas_threads": blas_threads(workers),
        },
        "params": {
            "path": _display_path(params.path),
            "sha256": file_sha256(params.path),
            "content": params.data,
        },
        "inputs": input_files(params)
        + [
            {"key": f"notebook:{nb.stem}", "path": _display_path(nb), "sha256": file_sha256(nb)}
            for nb in paths
        ],
        "environment": environment_versions(),
        "notebooks": [],
        "outputs": [],
    }
    results: list[NotebookResult] = []
    finished = False  # no exception escaped (a pre-step failing side by side comes last)

    def run_pre_steps() -> None:
        for name in pre_steps:
            say(f"预备步骤 {name} …")
            PRE_STEPS[name](params, out)

    limits = contextlib.ExitStack()
    try:
        limits.enter_context(_thread_share(blas_threads(workers)))
        if workers <= 1:
            run_pre_steps()

        def execute(i: int, nb: Path) -> NotebookResult:
            output = out / f"{nb.stem}.ipynb"
            html_path = out / f"{nb.stem}.html" if html else None
            say(f"[{i}/{len(paths)}] {_display_path(nb)} …")
            t0 = time.perf_counter()
            failure = None
            try:
                papermill.execute_notebook(
                    str(nb),
                    str(output),
                    parameters=plans[nb],
                    kernel_name=KERNEL_NAME,
                    progress_bar=progress and workers == 1,
                    execution_timeout=timeout,
                    # The kernel starts in the run folder via nbclient's resources, not
                    # papermill's cwd=: that one chdirs the whole process, and two notebooks
                    # running side by side would leave it in one of their folders.
                    resources={"metadata": {"path": str(out)}},
                    request_save_on_cell_execute=True,
                    # The kernel's own log (a loopback-TCP notice at start, the SIGINT that
                    # jupyter_client sends at every shutdown) is noise for users: cell
                    # errors arrive as cell outputs, a dying kernel as DeadKernelError.
                    extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                )
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # papermill errors, cell timeouts, a dead kernel
                failure = _failure_from_exception(exc, output)
            seconds = time.perf_counter() - t0
            if html_path is not None and output.exists():
                try:
                    export_html(output, html_path)
                except Exception as exc:  # a reader's copy must not hide the run's outcome
                    say(f"{nb.name}:HTML 报告未写出({type(exc).__name__}: {exc})")
                    html_path = None
            result = NotebookResult(
                nb,
                output,
                html_path if output.exists() else None,
                plans[nb],
                "failed" if failure else "ok",
                seconds,
                failure,
            )
            say(result.message() if failure is None else f"{nb.name}:失败")
            return result

        # Once for the whole run: the environment is the process's, shared by the threads.
        with _this_python_kernel():
            if workers <= 1:
                failed = False
                for i, nb in enumerate(paths, start=1):
                    if failed and not keep_going:
                        results.append(
                            NotebookResult(nb, out / f"{nb.stem}.ipynb", None, plans[nb], "not run")
                        )
                        continue
                    results.append(execute(i, nb))
                    failed = failed or results[-1].failure is not None
            else:
                # Notebooks read what earlier steps cached (warmed by a pre-step) and write into
                # their own files, so they can run side by side; results keep the given order.
                # The pre-steps take the first worker: the first notebooks (the register, the
                # design) start at once on the other, and a notebook that needs what the
                # pre-steps are still building waits for it (the cache's build lock) instead of
                # building it again.
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=workers) as pool:
                    warming = pool.submit(run_pre_steps) if pre_steps else None
                    futures = [pool.submit(execute, i, nb) for i, nb in enumerate(paths, start=1)]
                    results.extend(f.result() for f in futures)
                    if warming is not None:
                        warming.result()  # a failed pre-step fails the run
        finished = True
    finally:
        limits.close()
        # Written on success, failure and interruption alike.
        status = (
            "ok"
            if finished
            and results
            and all(r.status == "ok" for r in results)
            and len(results) == len(paths)
            else "failed"
        )
        provenance["status"] = status
        provenance["finished"] = _utc_now()
        provenance["notebooks"] = [_notebook_record(r, out) for r in results]
        provenance["outputs"] = _outputs_since(out, before)
        _write_json(provenance, out / PROVENANCE_FILE)
        try:
            write_index(out, provenance, params)
        except Exception as exc:  # the index is a convenience; never hide the run's outcome
            say(f"索引页未写出({type(exc).__name__}: {exc})")
    return RunResult(
        out, out / PROVENANCE_FILE, results, [row["path"] for row in provenance["outputs"]]
    )


INDEX_FILE = "index.html"
_STATUS_ZH = {"ok": "完成", "failed": "失败", "not run": "未运行", "running": "运行中"}
_KIND_ZH = {
    "report": "报告(HTML)",
    "document": "文档(Word/PDF)",
    "table": "表格",
    "figure": "图形",
    "other": "其他文件",
}


def _kind(rel: str) -> str:
    suffix = Path(rel).suffix.lower()
    if suffix == ".html":
        return "report"
    if suffix in (".docx", ".pdf"):
        return "document"
    if suffix in TABLE_SUFFIXES:
        return "table"
    if suffix in (".png", ".svg"):
        return "figure"
    return "other"


def _report_title(notebook: Path) -> str:
    """The first heading of a notebook's first markdown cell (its report title), or ''."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return ""
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", [])).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
            return ""
    return ""


def write_index(out: Path, provenance: Mapping[str, Any], params: Params) -> Path:
    """Write ``index.html`` in a run folder: a one-page summary of the run (params, status, the
    data note) and links to its reports, documents, tables and figures (relative links)."""
    from html import escape

    from samplekit.errors import SamplekitError
    from samplekit.jobs import data_note

    try:
        note = data_note(params)
    except SamplekitError as exc:  # an unreadable input: the notebooks say so; say it here too
        note = f"无法判断输入是否为合成数据:{exc}"
    title = str(params.get("title", params.get("name", "运行结果")))
    rows = []
    for nb in provenance.get("notebooks", []):
        label = _report_title(out / nb["output"]) or nb["name"]
        link = (
            f'<a href="{escape(nb["html"])}">{escape(label)}</a>'
            if nb.get("html")
            else escape(label)
        )
        failure = nb.get("failure") or {}
        why = (
            f"第 {failure.get('cell')} 个单元格:{escape(str(failure.get('ename')))}"
            f" {escape(str(failure.get('evalue'))[:200])}"
            if failure
            else ""
        )
        rows.append(
            f"<tr><td>{link}</td><td>{_STATUS_ZH.get(nb['status'], nb['status'])}</td>"
            f"<td class=n>{nb.get('seconds', 0):.0f}</td><td>{why}</td></tr>"
        )
    groups: dict[str, list[str]] = {k: [] for k in _KIND_ZH}
    for row in provenance.get("outputs", []):
        rel = row["path"]
        if rel in (INDEX_FILE, PROVENANCE_FILE) or rel.endswith(".ipynb"):
            continue
        groups[_kind(rel)].append(rel)
    listing = []
    for kind, files in groups.items():
        if kind == "report" or not files:
            continue
        items = "".join(f'<li><a href="{escape(f)}">{escape(f)}</a></li>' for f in sorted(files))
        listing.append(f"<h2>{_KIND_ZH[kind]}({len(files)} 个)</h2><ul>{items}</ul>")
    keys = [
        ("参数文件", provenance["params"]["path"]),
        ("任务", params.get("name", "")),
        ("省份", params.get("province.name", "")),
        ("调查期", params.get("period", "")),
        ("报告季度", params.get("quarter", "")),
        ("随机种子", params.get("seed", "")),
        ("样本总量", params.get("allocation.total", "")),
        ("开始(UTC)", provenance.get("started", "")),
        ("结束(UTC)", provenance.get("finished", "")),
        ("samplekit 版本", provenance.get("samplekit_version", "")),
    ]
    summary = "".join(f"<tr><th>{k}</th><td>{escape(str(v))}</td></tr>" for k, v in keys)
    status = _STATUS_ZH.get(str(provenance.get("status")), str(provenance.get("status")))
    banner = (
        f"<p class=banner>⚠ 数据说明:{escape(note)}</p>"
        if note
        else "<p>本次运行的全部输入均为参数文件指定的真实数据文件。</p>"
    )
    page = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body {{font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif;
  max-width: 60em; margin: 2em auto; color: #222; line-height: 1.5}}
h1 {{font-size: 1.5em}} h2 {{font-size: 1.15em; margin-top: 1.5em}}
table {{border-collapse: collapse}} td, th {{border-bottom: 1px solid #ddd; padding: 3px 10px;
  text-align: left; white-space: nowrap}} td.n {{text-align: right}}
.banner {{background: #fff3cd; border: 1px solid #e0c36b; padding: .6em 1em}}
.status {{font-weight: bold}}
</style></head><body>
<h1>{escape(title)}</h1>
<p class=status>运行状态:{status}</p>
{banner}
<h2>报告</h2>
<table><tr><th>报告</th><th>状态</th><th>用时(秒)</th><th>说明</th></tr>{"".join(rows)}</table>
<h2>运行参数</h2><table>{summary}</table>
{"".join(listing)}
<p>完整的运行记录(输入文件校验和、代码版本、环境)见
<a href="{PROVENANCE_FILE}">{PROVENANCE_FILE}</a>。</p>
</body></html>
"""
    path = out / INDEX_FILE
    path.write_text(page, encoding="utf-8")
    return path


def _notebook_record(result: NotebookResult, out: Path) -> dict[str, Any]:
    return {
        "name": result.notebook.stem,
        "source": _display_path(result.notebook),
        "output": result.output.relative_to(out).as_posix(),
        "html": result.html.relative_to(out).as_posix() if result.html else None,
        "parameters": result.parameters,
        "status": result.status,
        "seconds": round(result.seconds, 3),
        "failure": None
        if result.failure is None
        else {
            "cell": result.failure.cell,
            "execution_count": result.failure.execution_count,
            "first_line": result.failure.first_line,
            "ename": result.failure.ename,
            "evalue": result.failure.evalue,
        },
    }


def demo_notebooks() -> list[Path]:
    """The project's notebooks in name order (``00_…`` first)."""
    return sorted(p for p in notebooks_dir().glob("*.ipynb") if not p.name.startswith("."))


def run_demo(
    out_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
    keep_going: bool = False,
    echo: Callable[[str], None] | None = None,
) -> RunResult:
    """Run every notebook in ``notebooks/`` on ``params/guangdong_2013.yaml``.

    Parameters
    ----------
    out_dir : path, optional
        Default ``reports/demo``.
    progress, timeout, keep_going, echo
        As in :func:`run_notebooks`.

    Returns
    -------
    RunResult
    """
    notebooks = demo_notebooks()
    if not notebooks:
        raise InputError(f"no notebooks found in {notebooks_dir()}")
    return run_notebooks(
        notebooks,
        params_dir() / "guangdong_2013.yaml",
        out_dir if out_dir is not None else reports_dir() / "demo",
        timeout=timeout,
        progress=progress,
        keep_going=keep_going,
        pre_steps=DEMO_PRE_STEPS,
        workers=DEMO_WORKERS,
        echo=echo,
    )


def list_results(result: RunResult) -> dict[str, list[str]]:
    """Outputs of a run grouped for the terminal: notebooks, HTML, tables, figures, other."""
    groups: dict[str, list[str]] = {
        "notebooks": [],
        "html": [],
        "tables": [],
        "figures": [],
        "other": [],
    }
    for rel in result.outputs:
        suffix = Path(rel).suffix.lower()
        key = (
            "notebooks"
            if suffix == ".ipynb"
            else "html"
            if suffix == ".html"
            else "tables"
            if suffix in TABLE_SUFFIXES
            else "figures"
            if suffix in (".png", ".svg", ".pdf")
            else "other"
        )
        groups[key].append(rel)
    return groups

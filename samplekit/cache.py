"""One cache for results that are slow to rebuild (the demo register, a selection, the demo store).

A cached result is keyed by the *content* of everything it depends on: the package's source code
(every ``*.py`` of samplekit, so editing any module rebuilds), the params sections it reads, and
the bytes of every input file the params name plus the committed reference tables. Editing an
input file in place therefore never returns a stale result, and no module keeps a hand-made list
of what it depends on.

Set ``SAMPLEKIT_NO_CACHE=1`` (``samplekit verify`` does) to rebuild everything without reading or
writing the cache.

Builders of the same key in other processes or threads (notebooks started side by side while
the demo's ``warm`` step is still building the store) wait for the first one and read its result
instead of building it again (a lock file per key, where the platform has ``fcntl``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from samplekit.io import file_sha256
from samplekit.paths import PACKAGE_DIR, cache_dir, reference_dir, resolve

T = TypeVar("T")

#: Reference-data suffixes that count as inputs of every cached result and every run.
REFERENCE_SUFFIXES = (".csv", ".xlsx", ".parquet", ".yaml", ".json")


def caching_enabled() -> bool:
    """False when ``SAMPLEKIT_NO_CACHE`` is set to anything but ``0`` or empty."""
    return os.environ.get("SAMPLEKIT_NO_CACHE", "") in ("", "0")


@contextlib.contextmanager
def no_cache() -> Iterator[None]:
    """Rebuild everything inside the block (used by ``verify``)."""
    old = os.environ.get("SAMPLEKIT_NO_CACHE")
    os.environ["SAMPLEKIT_NO_CACHE"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SAMPLEKIT_NO_CACHE", None)
        else:
            os.environ["SAMPLEKIT_NO_CACHE"] = old


def code_fingerprint() -> dict[str, Any]:
    """SHA-256 over the package's source files (path and content hash of each ``*.py``).

    The git commit does not see uncommitted edits; this does.
    """
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    return {
        "package_sha256": _code_digest(tuple((p, p.stat().st_mtime_ns) for p in files)),
        "files": len(files),
    }


@lru_cache(maxsize=8)
def _code_digest(files: tuple[tuple[Path, int], ...]) -> str:
    h = hashlib.sha256()
    for path, _mtime in files:
        h.update(f"{path.relative_to(PACKAGE_DIR).as_posix()}\0{file_sha256(path)}\n".encode())
    return h.hexdigest()


def input_files(params: Any) -> list[dict[str, str]]:
    """Every existing file named by a string value anywhere in the params, with its key.

    Values are resolved like :meth:`Params.path_of` (relative to the project root). Strings that
    are not paths of existing files (names, titles, codes) are ignored. The reference tables in
    ``data/reference/`` follow, keyed ``reference:<file name>``: they shape every result without
    being named by the params.
    """
    found: dict[Path, str] = {}

    def walk(node: Any, key: str) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{key}[{i}]")
        elif isinstance(node, str) and node.strip() and "\n" not in node and len(node) < 4096:
            try:
                candidate = resolve(node)
                if candidate.is_file():
                    found.setdefault(candidate.resolve(), key)
            except (OSError, ValueError):
                return

    walk(params.data, "")
    named = sorted(found.items(), key=lambda kv: kv[1])
    reference = [
        (p.resolve(), f"reference:{p.name}")
        for p in sorted(reference_dir().glob("*"))
        if p.is_file() and p.suffix.lower() in REFERENCE_SUFFIXES and p.resolve() not in found
    ]
    return [{"key": key, "path": str(p), "sha256": file_sha256(p)} for p, key in named + reference]


def content_key(
    kind: str,
    *,
    params: Any = None,
    sections: Sequence[str] = (),
    files: Sequence[str | os.PathLike[str]] = (),
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Key of a cached result: ``kind``, the code, params ``sections``, input file contents.

    Parameters
    ----------
    kind : str
        What is cached (``"selection"``, ``"demo_store"`` …); also the file-name prefix.
    params : Params, optional
        When given, its ``sections`` (top-level keys) and the bytes of every file it names.
    sections : sequence of str
        Top-level params keys the result depends on.
    files : sequence of paths
        Further input files, hashed by content.
    extra : mapping, optional
        Further plain values (JSON-serialisable).
    """
    h = hashlib.sha256(kind.encode())
    h.update(code_fingerprint()["package_sha256"].encode())
    if params is not None:
        h.update(params.digest(keys=tuple(sections)).encode())
        for entry in input_files(params):
            h.update(f"{entry['sha256']}\n".encode())
    for f in files:
        h.update(file_sha256(Path(f)).encode())
    h.update(json.dumps(extra or {}, sort_keys=True, ensure_ascii=False, default=str).encode())
    return f"{kind}_{h.hexdigest()[:20]}"


def cache_dir_has(key: str) -> bool:
    """True when an object is cached under ``key`` (and caching is on)."""
    return caching_enabled() and (cache_dir() / f"{key}.pkl").exists()


@contextlib.contextmanager
def _building(key: str) -> Iterator[None]:
    """Hold the build lock of ``key``: a second builder waits here, then finds the result."""
    try:
        import fcntl
    except ImportError:  # no fcntl (Windows): concurrent builders each build whole
        yield
        return
    with open(cache_dir() / f".{key}.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _load_pickle(path: Path) -> tuple[bool, Any]:
    if path.exists():
        try:
            with open(path, "rb") as fh:
                return True, pickle.load(fh)
        except Exception:  # noqa: BLE001 - a partial or foreign cache file is rebuilt
            path.unlink(missing_ok=True)
    return False, None


def cached_object(key: str, build: Callable[[], T]) -> T:
    """The pickled result stored under ``key``, built (and stored) when absent."""
    if not caching_enabled():
        return build()
    path = cache_dir() / f"{key}.pkl"
    found, result = _load_pickle(path)
    if found:
        return result
    with _building(key):
        found, result = _load_pickle(path)  # built by another process while we waited
        if found:
            return result
        result = build()
        _atomic_write(path, lambda tmp: tmp.write_bytes(pickle.dumps(result, protocol=5)))
    return result


def cached_file(key: str, suffix: str, build: Callable[[Path], None]) -> Path:
    """A file built by ``build(path)`` once per ``key`` (concurrent builders each write whole)."""
    if not caching_enabled():
        folder = Path(tempfile.mkdtemp(prefix="samplekit_nocache_"))
        path = folder / f"{key}{suffix}"
        build(path)
        return path
    path = cache_dir() / f"{key}{suffix}"
    if not path.exists():
        with _building(key):
            if not path.exists():
                _atomic_write(path, build)
    return path


def cached_dir(key: str, build: Callable[[Path], None]) -> Path:
    """A folder filled by ``build(folder)`` once per ``key``; published by one rename."""
    if not caching_enabled():
        folder = Path(tempfile.mkdtemp(prefix="samplekit_nocache_")) / key
        folder.mkdir()
        build(folder)
        return folder
    final = cache_dir() / key
    if final.exists():
        return final
    with _building(key):
        if final.exists():  # built by another process while we waited
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}_", dir=cache_dir()))
        try:
            build(tmp)
            try:
                os.rename(tmp, final)
            except OSError:  # another process finished first: use its copy
                if not final.exists():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

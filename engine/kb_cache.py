"""A cache of loaded knowledge bases: a command whose knowledge base and code have not
changed gets its ``KnowledgeBase`` from a pickle instead of reading, validating and
linking the YAML again (~180 ms for the bundled one).

An entry is named by a sha256 of all the loaded objects depend on: ``FORMAT``, the
Python version, badges' own code, the folder's path and every file under it. Only a
valid knowledge base is ever stored. A pickle can run code when loaded, so entries are
read only from a folder, and only as files, that the current user owns and no one else
may write to. The cache is an optimisation: whatever goes wrong with it, the knowledge
base is loaded as if it were not there.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import stat
import sys
from pathlib import Path
from typing import Callable

from . import model as m

FORMAT = 1  # part of every key: bump it to drop every entry (the code's digest covers changes to badges itself)
VARIABLE = "BADGES_CACHE_DIR"  # the cache folder; set but empty, no cache
KEEP = 16  # entries kept: a few knowledge bases, each under a few versions of the code
_CODE = Path(__file__).resolve().parent.parent  # holds the engine and explain packages, in a clone or site-packages
_PACKAGES = ("engine", "explain")
_SKIPPED = {"__pycache__", ".git"}  # folders no knowledge base reads, and that change without it
_ENTRIES = "[0-9a-f]" * 64 + ".pickle*"  # entries and temporary files being written: nothing else in the folder

def load_cached(root: Path | str) -> m.KnowledgeBase:
    """Like ``kb_loader.load_knowledge_base`` (raises InvalidInput listing every problem),
    but from the cache when nothing the result depends on changed since it was stored."""
    root = Path(root)
    # Not a knowledge base (a mistyped ``--kb ~``, say): fail at once, not after hashing all below it.
    folder = cache_dir() if (root / "kb.yaml").is_file() else None
    key = _key(root) if folder else None
    if key is None:
        return _load(root)
    entry = folder / f"{key}.pickle"
    kb = _read(entry)
    if kb is None:
        kb = _load(root)
        # A file edited while loading would otherwise file its new content under the old key.
        if _key(root) == key:
            _write(entry, kb)
    return kb


def cache_dir() -> Path | None:
    """``$BADGES_CACHE_DIR``, else ``$XDG_CACHE_HOME/badges``, else ``~/.cache/badges``,
    made if missing; None when disabled, when it cannot be made, or when it is not private."""
    if not hasattr(os, "getuid"):  # no owner to check (Windows): never load a pickle
        return None
    configured = os.environ.get(VARIABLE)
    if configured is not None:
        folder = Path(configured) if configured else None
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        try:  # the XDG specification ignores a relative path
            folder = (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "badges"
        except RuntimeError:  # no home folder
            folder = None
    if folder is None:
        return None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder if _private(os.stat(folder), stat.S_ISDIR) else None
    except OSError:
        return None


def _load(root: Path) -> m.KnowledgeBase:
    from .kb_loader import load_knowledge_base  # imported only on a miss: it brings yaml and jsonschema

    return load_knowledge_base(root)


def _private(info: os.stat_result, kind: Callable[[int], bool]) -> bool:
    """Of the right kind, owned by the current user and writable by no one else."""
    return kind(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _key(root: Path) -> str | None:
    """The sha256 naming ``root``'s entry, or None when a file under it cannot be read."""
    digest = hashlib.sha256()
    # The knowledge base holds the path as given (its root, its locations); where a
    # relative one leads depends on the working folder.
    for part in (str(FORMAT), sys.version, _code_digest(), str(root), str(root.resolve())):
        digest.update(os.fsencode(part) + b"\0")
    try:
        _add_files(digest, root, lambda name: not name.endswith(".pyc"))
    except OSError:
        return None
    return digest.hexdigest()


@functools.cache
def _code_digest() -> str:
    """A sha256 of every module of badges' engine and explain packages."""
    digest = hashlib.sha256()
    for package in _PACKAGES:
        digest.update(package.encode() + b"\0")
        _add_files(digest, _CODE / package, lambda name: name.endswith(".py"))
    return digest.hexdigest()


def _add_files(digest, top: Path, wanted: Callable[[str], bool]) -> None:
    """Add the relative path and content of each wanted file under ``top`` to ``digest``,
    in a fixed order. Links are followed, as the loader follows them, each folder once."""
    seen = set()
    for folder, subfolders, names in os.walk(top, followlinks=True):
        info = os.stat(folder)
        if (info.st_dev, info.st_ino) in seen:  # a link back up the tree
            subfolders.clear()
            continue
        seen.add((info.st_dev, info.st_ino))
        subfolders[:] = sorted(name for name in subfolders if name not in _SKIPPED)
        relative = os.fsencode(os.path.relpath(folder, top))
        for name in sorted(filter(wanted, names)):
            with open(os.path.join(folder, name), "rb") as file:
                content = hashlib.sha256(file.read()).digest()
            digest.update(relative + b"/" + os.fsencode(name) + b"\0" + content)


def _read(entry: Path) -> m.KnowledgeBase | None:
    """The knowledge base stored in ``entry``, or None when it is missing, not private or unreadable."""
    try:
        fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with open(fd, "rb") as file:
        if not _private(os.fstat(fd), stat.S_ISREG):
            return None
        try:
            kb = pickle.loads(file.read())
        except Exception:  # truncated, corrupt, naming code that has gone: unpickling can raise almost anything
            return None
    if not isinstance(kb, m.KnowledgeBase):
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)  # recently used: pruning drops the entries used least recently
    return kb


def _write(entry: Path, kb: m.KnowledgeBase) -> None:
    """Store ``kb`` in ``entry`` atomically, then prune the folder; skipped on any OSError."""
    import tempfile  # here: only a cache miss writes

    data = pickle.dumps(kb, pickle.HIGHEST_PROTOCOL)  # engine.model makes its read-only mappings picklable
    try:
        fd, temporary = tempfile.mkstemp(dir=entry.parent, prefix=entry.name, suffix=".tmp")
    except OSError:
        return
    try:
        with open(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, entry)  # readers see the whole old entry, or the whole new one
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return
    _prune(entry.parent)


def _prune(folder: Path) -> None:
    """Delete all but the KEEP most recently used entries (and any temporary file a crash left)."""
    dated = []
    for path in folder.glob(_ENTRIES):
        with contextlib.suppress(OSError):  # another process may have deleted it
            dated.append((path.stat().st_mtime_ns, path))
    for _, path in sorted(dated, reverse=True)[KEEP:]:
        with contextlib.suppress(OSError):
            path.unlink()

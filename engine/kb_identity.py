"""Who a knowledge base is: its sha256, each rule file's sha256, and where git keeps each file.

An auditor reproducing a decision years later needs the exact rule files it was made
with. ``identify`` records them (and, when the folder is in a git work tree, the commit
that last changed each file and whether it had uncommitted changes); ``rebuild_from_git``
writes them back into a folder from git history, checking every file's sha256.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from . import model as m

__all__ = ["identify", "rebuild_from_git", "git_toplevel", "Unavailable"]


class Unavailable(Exception):
    """The rule base cannot be rebuilt; the message says why, in plain words."""


def _git_bytes(cwd: str | Path, *args: str) -> bytes | None:
    """Output of a read-only git command, or None when git fails or is missing."""
    # No optional locks: `git status` would otherwise refresh the index and take
    # .git/index.lock, getting in the way of whoever is committing in that tree.
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        done = subprocess.run(("git", "-c", "core.quotePath=false", *args), cwd=cwd, env=env,
                              capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _git(cwd: str | Path, *args: str) -> str | None:
    out = _git_bytes(cwd, *args)
    return None if out is None else out.decode("utf-8", "surrogateescape")


def git_toplevel(folder: str | Path) -> str | None:
    """The root of the git work tree holding ``folder``, or None."""
    if not Path(folder).is_dir():
        return None
    top = _git(folder, "rev-parse", "--show-toplevel")
    return top.strip() if top else None


def identify(kb: m.KnowledgeBase) -> dict:
    """The knowledge base's identity as JSON-ready data (see docs/decision-log.md)."""
    root = Path(kb.root).resolve()
    git = _git_state(root, [path for path, _ in kb.files])
    files = []
    for path, sha in kb.files:
        entry = {"path": path, "sha256": sha}
        if git is not None:
            entry["revision"] = git["revisions"].get(path)
            entry["dirty"] = path in git["dirty"] or entry["revision"] is None
        files.append(entry)
    return {
        "name": kb.name,
        "version": kb.version,
        "root": str(root),
        "sha256": kb.sha256,
        "git": None if git is None else {"head": git["head"], "prefix": git["prefix"]},
        "files": files,
    }


def _git_state(root: Path, paths: list[str]) -> dict | None:
    """Last commit touching each file, the files with uncommitted changes, HEAD and the folder's prefix."""
    top = git_toplevel(root)
    head = _git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}") if top else None
    if not top or not head:
        return None
    prefix = Path(os.path.relpath(root, Path(top).resolve())).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    wanted = {prefix + p: p for p in paths}
    revisions: dict[str, str] = {}
    # One `git log` for the whole folder: the first commit listing a file is its last change.
    log = _git(top, "log", "--format=%x00%H", "--name-only", "--no-renames", "HEAD", "--", prefix or ".") or ""
    commit = None
    for line in log.splitlines():
        if line.startswith("\0"):
            commit = line[1:]
        elif line in wanted and wanted[line] not in revisions:
            revisions[wanted[line]] = commit
    status = _git(top, "status", "--porcelain=v1", "-z", "--no-renames", "--untracked-files=all", "--", prefix or ".") or ""
    dirty = {wanted[entry[3:]] for entry in status.split("\0") if entry[3:] in wanted}
    return {"head": head.strip(), "prefix": prefix, "revisions": revisions, "dirty": dirty}


def rebuild_from_git(identity: dict, into: Path, repos: list[str | Path]) -> Path:
    """Write the recorded rule files into ``into`` from git history; raise Unavailable with why.

    Each file is taken from the commit that last changed it, or else from the recorded
    HEAD, and must have the recorded sha256. ``repos`` are folders to look for the git
    repository in (the recorded root, the current directory), tried in order.
    """
    git = identity.get("git")
    if not git:
        raise Unavailable("the knowledge base was not in a git work tree when the decision was made")
    dirty = [f["path"] for f in identity["files"] if f.get("dirty")]
    if dirty:
        raise Unavailable(f"{', '.join(dirty)} had uncommitted changes when the decision was made, "
                          "so git does not hold the content that was used")
    tops = []
    for folder in repos:
        top = git_toplevel(folder)
        if top and top not in tops:
            tops.append(top)
    if not tops:
        raise Unavailable("no git repository found (looked at the recorded root and the current directory)")
    reasons = []
    for top in tops:
        if _git(top, "cat-file", "-e", f"{git['head']}^{{commit}}") is None:
            reasons.append(f"{top} does not contain commit {git['head'][:12]}")
            continue
        missing = _write_files(identity, git, top, into)
        if not missing:
            return into
        reasons.append(f"in {top}, " + "; ".join(missing))
    raise Unavailable("; ".join(reasons))


def _write_files(identity: dict, git: dict, top: str, into: Path) -> list[str]:
    """Write every recorded file from ``top``'s history; return what could not be found."""
    missing = []
    for entry in identity["files"]:
        target = into / entry["path"]
        if not target.resolve().is_relative_to(into.resolve()):  # the log is untrusted input
            missing.append(f"{entry['path']} is not a path inside the knowledge base")
            continue
        content = _content_at(top, git["prefix"] + entry["path"], entry["sha256"],
                              [r for r in (entry.get("revision"), git["head"]) if r])
        if content is None:
            missing.append(f"{entry['path']} with sha256 {entry['sha256'][:12]}… is not in its recorded revisions")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return missing


def _content_at(top: str, path: str, sha256: str, revisions: list[str]) -> bytes | None:
    for revision in revisions:
        content = _git_bytes(top, "show", f"{revision}:{path}")
        if content is not None and hashlib.sha256(content).hexdigest() == sha256:
            return content
    return None

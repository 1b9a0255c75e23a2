"""The knowledge base cache (engine/kb_cache.py): a hit gives what loading would, anything
changed misses, and a cache that is broken, shared or unwritable is passed over."""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from engine import kb_cache, kb_loader
from engine.diagnostics import InvalidInput
from engine.kb_cache import load_cached
from tests.conftest import BUNDLED_KB, MINI_KB, REPO


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("BADGES_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def loads(monkeypatch) -> list:
    """The folders the real loader is asked for, from now on."""
    asked = []
    load = kb_loader.load_knowledge_base

    def counted(root):
        asked.append(root)
        return load(root)

    monkeypatch.setattr(kb_loader, "load_knowledge_base", counted)
    return asked


def _no_loading(monkeypatch) -> None:
    def refused(root):
        raise AssertionError(f"loaded {root} instead of taking it from the cache")

    monkeypatch.setattr(kb_loader, "load_knowledge_base", refused)


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pickle"))


def _copy(source: Path, to: Path) -> Path:
    shutil.copytree(source, to, ignore=shutil.ignore_patterns("__pycache__"))
    return to


def test_the_second_load_comes_from_the_cache(cache, monkeypatch):
    first = load_cached(BUNDLED_KB)
    [entry] = _entries(cache)
    assert oct(cache.stat().st_mode & 0o777) == "0o700" and oct(entry.stat().st_mode & 0o777) == "0o600"
    _no_loading(monkeypatch)
    second = load_cached(BUNDLED_KB)
    assert second == first and second is not first


def test_an_edited_rule_file_misses_the_cache_and_its_content_is_seen(cache, tmp_path):
    root = _copy(BUNDLED_KB, tmp_path / "kb")
    assert load_cached(root).find_conclusion("client-voice").name == "Client Voice"
    rule = root / "kiva-badges" / "badges" / "client-voice.yaml"
    rule.write_text(rule.read_text().replace("name: Client Voice", "name: Client Voices"))
    assert load_cached(root).find_conclusion("client-voice").name == "Client Voices"
    assert len(_entries(cache)) == 2


def test_files_behind_a_link_count_and_a_link_back_up_the_tree_is_read_once(cache, tmp_path):
    root = _copy(MINI_KB, tmp_path / "kb")
    shutil.move(root / "demo", tmp_path / "demo")
    (root / "demo").symlink_to(tmp_path / "demo")
    (root / "demo" / "again").symlink_to(root)
    assert load_cached(root).find_conclusion("focus").name == "Focus"
    rule = tmp_path / "demo" / "badges" / "focus.yaml"
    rule.write_text(rule.read_text().replace("name: Focus", "name: In focus"))
    assert load_cached(root).find_conclusion("focus").name == "In focus"


def test_a_changed_code_misses_the_cache(cache, loads, monkeypatch):
    load_cached(MINI_KB)
    monkeypatch.setattr(kb_cache, "_code_digest", lambda: "other code")
    load_cached(MINI_KB)
    assert len(loads) == 2


def test_the_code_digest_covers_every_module_of_engine_and_explain(tmp_path, monkeypatch):
    for package in ("engine", "explain"):
        _copy(REPO / package, tmp_path / package)
    monkeypatch.setattr(kb_cache, "_CODE", tmp_path)
    digest = kb_cache._code_digest.__wrapped__  # not memoised
    before = digest()
    (tmp_path / "explain" / "templates" / "report.md").write_text("not code")
    assert digest() == before
    with open(tmp_path / "engine" / "cli" / "why.py", "a") as module:
        module.write("\n")
    assert digest() != before


def test_each_copy_and_each_spelling_of_a_folder_gets_its_own_root(cache, tmp_path, monkeypatch):
    here, there = _copy(MINI_KB, tmp_path / "here"), _copy(MINI_KB, tmp_path / "there")
    assert load_cached(here).root == str(here)
    kb = load_cached(there)
    assert kb.root == str(there)
    assert {fact.location.path for pack in kb.packs.values() for fact in pack.facts.values()} \
        == {str(there / "demo" / "facts.yaml")}
    monkeypatch.chdir(tmp_path)
    assert load_cached("here").root == "here"
    monkeypatch.chdir(there)
    assert load_cached("../here").root == "../here"


@pytest.mark.parametrize("damage", [
    lambda data: data[: len(data) // 2],
    lambda data: b"",
    lambda data: b"not a pickle at all",
    lambda data: b"\x80\x05\x95" + b"\xff" * 40,
], ids=["truncated", "empty", "garbage", "corrupt"])
def test_a_damaged_entry_is_ignored_and_replaced(cache, monkeypatch, damage):
    kb = load_cached(MINI_KB)
    [entry] = _entries(cache)
    entry.write_bytes(damage(entry.read_bytes()))
    assert load_cached(MINI_KB) == kb
    _no_loading(monkeypatch)
    assert load_cached(MINI_KB) == kb


def test_a_cache_folder_that_cannot_be_made_is_passed_over(tmp_path, monkeypatch, loads):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("BADGES_CACHE_DIR", str(tmp_path / "file" / "cache"))
    assert load_cached(MINI_KB) == load_cached(MINI_KB)
    assert len(loads) == 2


def test_a_failed_write_leaves_nothing_behind(cache, monkeypatch, loads):
    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    assert load_cached(MINI_KB) == load_cached(MINI_KB)
    assert len(loads) == 2 and list(cache.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_folder_still_loads(cache, loads):
    cache.mkdir(mode=0o500)
    assert load_cached(MINI_KB) == load_cached(MINI_KB)
    assert len(loads) == 2


def _foreign_owner(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can give a file away")
    os.chown(path, os.geteuid() + 4242, -1)


def _link_to_a_copy(entry: Path) -> None:
    copy = entry.with_name("elsewhere")
    shutil.copy(entry, copy)
    entry.unlink()
    entry.symlink_to(copy)


@pytest.mark.parametrize("unsafe", [
    lambda entry: entry.parent.chmod(0o770),
    lambda entry: entry.parent.chmod(0o702),
    lambda entry: _foreign_owner(entry.parent),
    lambda entry: entry.chmod(0o620),
    lambda entry: _foreign_owner(entry),
    _link_to_a_copy,
], ids=["folder-group-writable", "folder-others-writable", "folder-of-another-user", "entry-group-writable",
        "entry-of-another-user", "entry-a-link"])
def test_an_entry_others_could_have_written_is_not_read(cache, loads, unsafe):
    load_cached(MINI_KB)
    [entry] = _entries(cache)
    unsafe(entry)
    load_cached(MINI_KB)
    assert len(loads) == 2


def test_an_empty_cache_variable_disables_the_cache(tmp_path, monkeypatch, loads):
    monkeypatch.setenv("BADGES_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert kb_cache.cache_dir() is None
    load_cached(MINI_KB)
    load_cached(MINI_KB)
    assert len(loads) == 2 and list(tmp_path.iterdir()) == []


def test_without_the_variable_the_cache_is_in_the_xdg_cache_folder_else_in_home(tmp_path, monkeypatch):
    monkeypatch.delenv("BADGES_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kb_cache.cache_dir() == tmp_path / "xdg" / "badges"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert kb_cache.cache_dir() == tmp_path / "home" / ".cache" / "badges"
    assert oct((tmp_path / "home" / ".cache" / "badges").stat().st_mode & 0o777) == "0o700"


def test_an_invalid_knowledge_base_raises_every_time_and_is_not_cached(cache, tmp_path):
    root = _copy(MINI_KB, tmp_path / "kb")
    (root / "demo" / "badges" / "focus.yaml").write_text("id: focus\nkind: badge\n")
    for _ in range(2):
        with pytest.raises(InvalidInput):
            load_cached(root)
    assert _entries(cache) == []


def test_a_folder_without_kb_yaml_is_not_hashed(cache, tmp_path, monkeypatch):
    (tmp_path / "big").write_bytes(b"data")
    monkeypatch.setattr(kb_cache, "_add_files", None)  # calling it would raise a TypeError
    with pytest.raises(InvalidInput, match="missing file kb.yaml"):
        load_cached(tmp_path)


def test_the_least_recently_used_entries_beyond_keep_are_deleted(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(kb_cache, "KEEP", 2)
    a, b, c = (_copy(MINI_KB, tmp_path / name) for name in "abc")

    def load_then_age(root: Path) -> None:
        """Then every file is older by a minute: the order holds on coarse file clocks too."""
        load_cached(root)
        for path in cache.iterdir():
            info = path.stat()
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns - 60 * 10**9))

    load_then_age(a)
    crashed = cache / (_entries(cache)[0].name + ".crashed.tmp")  # a write that never finished
    crashed.write_bytes(b"half")
    os.utime(crashed, (0, 0))
    (cache / "notes.txt").write_text("not the cache's")
    load_then_age(b)
    load_then_age(a)  # a hit: a is now used more recently than b
    load_then_age(c)
    assert len(_entries(cache)) == 2 and {p.name for p in cache.iterdir()} - {p.name for p in _entries(cache)} \
        == {"notes.txt"}
    _no_loading(monkeypatch)
    assert (load_cached(a).root, load_cached(c).root) == (str(a), str(c))


def test_a_spawned_batch_worker_reads_the_cache(cache, monkeypatch):
    from engine import batch

    kb = load_cached(MINI_KB)
    _no_loading(monkeypatch)
    evaluator = batch._spawned_evaluator(kb.root, kb.sha256, lambda kb, result: result, None)
    assert evaluator.kb == kb
    evaluator.close()


def test_a_command_prints_the_same_with_a_cold_and_a_warm_cache(cache, cli, monkeypatch):
    monkeypatch.chdir(REPO)
    cold = cli("why", "examples/partners/crecer.yaml", "client-voice")
    assert cold.status == 0 and cold.err == "" and len(_entries(cache)) == 1
    _no_loading(monkeypatch)
    warm = cli("why", "examples/partners/crecer.yaml", "client-voice")
    assert (warm.status, warm.out.encode(), warm.err) == (0, cold.out.encode(), "")

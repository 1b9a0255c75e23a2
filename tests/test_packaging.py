"""The wheel carries the knowledge base, and an installed copy works from any folder.

Slow (builds a wheel and installs it, with its dependencies, into a fresh virtual
environment) but part of the default run: ``pytest -m "not slow"`` skips it.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import BUNDLED_KB, EXAMPLES, REPO

pytestmark = pytest.mark.slow

# A build writes build/ and *.egg-info beside the sources, so it runs on a copy without these.
_ANYWHERE = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__",
                                   ".pytest_cache", ".hypothesis")
_AT_TOP = {"tests", "examples", "bench"}  # knowledge_base/<pack>/tests must stay


def _not_sources(folder: str, names: list[str]) -> set[str]:
    ignored = set(_ANYWHERE(folder, names))
    return ignored | (_AT_TOP & set(names)) if Path(folder) == REPO else ignored


def _run(*args, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("packaging")
    shutil.copytree(REPO, work / "src", ignore=_not_sources)
    _run(sys.executable, "-m", "pip", "wheel", work / "src", "--no-deps", "-q", "-w", work / "wheels", cwd=work)
    [built] = (work / "wheels").glob("badges-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The ``bin`` folder of a fresh virtual environment with the wheel installed."""
    env = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", env, cwd=env)
    _run(env / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=env)
    return env / "bin"


def test_wheel_contains_every_knowledge_base_file(wheel):
    with zipfile.ZipFile(wheel) as archive:
        packed = {name for name in archive.namelist() if name.startswith("knowledge_base/")}
    expected = {f"knowledge_base/{p.relative_to(BUNDLED_KB).as_posix()}" for p in BUNDLED_KB.rglob("*.yaml")}
    assert expected and expected <= packed, sorted(expected - packed)


def test_installed_package_works_from_another_folder(installed, tmp_path):
    badges = installed / "badges"
    check = _run(badges, "check", cwd=tmp_path)
    assert ": OK: " in check.stdout
    evaluate = _run(badges, "evaluate", EXAMPLES, "--format", "csv", cwd=tmp_path)
    assert evaluate.stderr == ""
    partners = {line.split(",")[0] for line in evaluate.stdout.splitlines()[1:]}
    assert {"amk", "crecer", "sef"} <= partners
    rule_tests = _run(badges, "test", cwd=tmp_path)
    assert rule_tests.stdout.rstrip().endswith(" 0 failed")


def test_installed_package_uses_its_own_knowledge_base(installed, tmp_path):
    """Not the checkout's: the bundled folder resolves inside site-packages."""
    where = _run(installed / "python", "-c", "from knowledge_base import BUNDLED; print(BUNDLED)", cwd=tmp_path)
    assert "site-packages" in where.stdout and str(REPO) not in where.stdout

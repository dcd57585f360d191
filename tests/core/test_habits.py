"""The habits the code keeps, checked with the suite so CI fails on them: ruff's lint
and format, mypy, and the import contracts in pyproject.toml (no circle in core, no
plugin importing another, core's layers one way)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name
    if not found.exists():
        found = Path(shutil.which(name) or "")
    if not found.name:
        pytest.fail(f"{name} is not installed: run `bash scripts/install.sh --test`")
    return str(found)


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing():
    result = run(tool("ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_is_formatted():
    result = run(tool("ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_import_contracts_hold():
    result = run(tool("lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "0 broken" in result.stdout


def test_the_types_check():
    result = run(tool("mypy"), "--cache-dir", str(ROOT / ".mypy_cache"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def test_the_suite_runs_unit_tests_first_and_skips_integration_after_a_failure(tmp_path):
    """tests/conftest.py's two lanes, run on a suite of three tests written in the wrong
    order: the integration test is put last and skipped because a unit test failed."""
    root = Path(__file__).resolve().parents[1]
    (tmp_path / "conftest.py").write_text((root / "conftest.py").read_text())
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    integration: slow\n")
    (tmp_path / "test_lanes.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.integration\n"
        "def test_slow():\n    pass\n\n"
        "def test_broken():\n    assert False\n\n"
        "def test_fine():\n    pass\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("test_lanes.py::")]
    assert [line.split("::")[1].split()[0] for line in lines] == [
        "test_broken",
        "test_fine",
        "test_slow",
    ], run.stdout
    assert "SKIPPED" in lines[-1] and "1 failed, 1 passed, 1 skipped" in run.stdout

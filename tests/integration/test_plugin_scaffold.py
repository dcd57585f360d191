"""A plugin made by `gba plugin new` installs with `gba install` into a fresh venv beside
gba-core, passes its own generated tests there, shows in `gba tools`, and goes again with
`gba uninstall`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def run(*args, cwd=None):
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=1800, cwd=cwd
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def tools(venv):
    return {row["name"]: row for row in json.loads(run(venv / "bin" / "gba", "tools", "--json"))}


def test_a_generated_plugin_installs_passes_its_tests_and_shows_in_gba_tools(tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python, gba = venv / "bin" / "python", venv / "bin" / "gba"
    run(python, "-m", "pip", "--disable-pip-version-check", "-q", "install", ROOT, "pytest")
    run(gba, "plugin", "new", "word-stats", "--dir", tmp_path)
    run(gba, "plugin", "new", "fn-stats", "--tool", "count_words", "--style", "function",
        "--dir", tmp_path)  # fmt: skip
    word_stats, fn_stats = tmp_path / "gba-word-stats", tmp_path / "gba-fn-stats"
    installed = run(gba, "install", "-e", word_stats, "-e", fn_stats)
    assert "added plugin word-stats (gba-word-stats 0.1.0)" in installed
    assert "added plugin fn-stats (gba-fn-stats 0.1.0)" in installed
    for folder in (word_stats, fn_stats):
        tested = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=folder)
        assert "4 passed" in tested
    listed = tools(venv)
    assert listed["word_stats"]["real"] and listed["word_stats"]["simulated"]
    assert listed["word_stats"]["plugin"] == "word-stats"
    assert listed["count_words"]["plugin"] == "fn-stats"
    assert "removed plugin fn-stats" in run(gba, "uninstall", "gba-fn-stats")
    assert "count_words" not in tools(venv)

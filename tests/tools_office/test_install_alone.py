"""gba-tools-office installs alone beside gba-core in a fresh venv."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_installs_beside_gba_core_and_shows_its_five_pairs(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    install = subprocess.run(
        [*pip, "install", str(ROOT), str(ROOT / "plugins" / "gba_tools_office")],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    out = subprocess.run(
        [str(venv / "bin" / "gba"), "tools", "--json"], capture_output=True, text=True, check=True
    )
    rows = {row["name"]: row for row in json.loads(out.stdout)}
    for name in ("ask_user", "calculate_number", "create_event", "send_email", "use_bash"):
        assert rows[name]["real"] and rows[name]["simulated"] and rows[name]["plugin"] == "office"
    plugins = subprocess.run(
        [str(venv / "bin" / "gba"), "plugins", "--json"], capture_output=True, text=True, check=True
    )
    office = next(p for p in json.loads(plugins.stdout) if p["name"] == "office")
    assert office["distribution"] == "gba-tools-office" and office["error"] is None

"""Listing commands stay fast: no heavy library is imported by them."""

import json
import subprocess
import sys

HEAVY = [
    "llama_cpp",
    "openai",
    "numpy",
    "torch",
    "transformers",
    "httpx",
    "sentence_transformers",
    "faiss",
    "trafilatura",
    "pyarrow",
    "mwparserfromhell",
]


def test_help_and_tools_do_not_import_heavy_libraries():
    code = f"""
import json, sys
from click.testing import CliRunner
from gba_core.cli import cli
for args in (["--help"], ["tools"], ["plugins"], ["llms"]):
    assert CliRunner().invoke(cli, args).exit_code == 0, args
print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []

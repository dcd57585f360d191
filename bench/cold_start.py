"""Cold-start seconds of `gba --help`, `gba tools`, `gba plugins` and of loading the
embedded model in a new process, against a bare interpreter.

Run alone: python bench/cold_start.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from _common import bench_args, command_seconds, machine, median


def main() -> None:
    args = bench_args(runs=9)
    gba = (
        str(Path(sys.executable).with_name("gba"))
        if Path(sys.executable).with_name("gba").exists()
        else shutil.which("gba")
    )
    baseline = median(command_seconds([sys.executable, "-c", "pass"], args.runs))
    print(f"# cold start ({machine()}, median of {args.runs})")
    print(f"python -c pass   {baseline:6.3f} s")
    for cmd in (["--help"], ["tools"], ["plugins"]):
        s = median(command_seconds([gba, *cmd], args.runs))
        print(f"gba {' '.join(cmd):<12} {s:6.3f} s  ({s / baseline:.1f}x bare python)")
    load = "from gba_core.registry import get_llm; get_llm('llama-cpp:gemma-3-270m')"
    s = median(command_seconds([sys.executable, "-c", load], args.runs))
    print(f"load embedded    {s:6.3f} s  (new process: imports, plugins, GGUF load)")


if __name__ == "__main__":
    main()

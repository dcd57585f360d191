#!/usr/bin/env bash
# Installs gba-core and every plugin distribution under plugins/ into .venv (editable).
#   bash scripts/install.sh          # what running gba needs
#   bash scripts/install.sh --test   # plus what the test suite needs
# Offline-friendly: only PyPI is reached, and pip's wheel cache makes a second run fast
# (llama-cpp-python compiles from source once, ~10 min on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

extra=""
[ "${1:-}" = "--test" ] && extra="[test]"

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "gba needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check)

targets=(-e ".$extra")
needs_torch=0
for project in plugins/*/pyproject.toml; do
  [ -f "$project" ] || continue
  dir=$(dirname "$project")
  targets+=(-e "./$dir$extra")
  grep -qiE '"(torch|transformers|sentence-transformers|trl|peft)' "$project" && needs_torch=1
done

# torch first and pinned: left to the resolver, it would pull a multi-GB CUDA build.
if [ "$needs_torch" = 1 ]; then
  "${pip[@]}" install "torch==2.13.0"
fi
"${pip[@]}" install "${targets[@]}"
echo "Installed into .venv: $(.venv/bin/gba --version)"

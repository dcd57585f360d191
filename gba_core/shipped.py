"""Planners that ship trained, and which planner a run uses when the user names none.

A plugin ships a fine-tuned planner as a LoRA adapter plus a manifest of what it was
trained on (``register_planner_models``). The agent uses it by default when it knows
every installed tool; otherwise the zero-shot planner reads the tool descriptions, and
one line says which tools the shipped planner does not know. A user's own model for the
planner role always wins over a shipped one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

from pydantic import BaseModel, Field

from gba_core.config import DEFAULT_LLM
from gba_core.errors import ConfigError

MANIFEST = "manifest.json"

# Planners whose prompt names no tools: without a trained model they would only guess.
# On the embedded default either name runs the shipped planner, in the form its
# manifest says it was trained on.
TRAINED_PLANNERS = ("fine-tuned", "fine-tuned-brief")


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tool_hashes(descriptions: Mapping[str, str]) -> dict[str, str]:
    """Tool name -> sha256 of its description, as a manifest records them."""
    return {name: text_sha256(text) for name, text in sorted(descriptions.items())}


def dataset_sha256(jsonl: Path) -> str:
    """The hash of a packaged split: each example's prompt and completion, in file order.

    Bookkeeping fields (trajectory ids) are left out, so the same data packaged into a
    new runs database hashes the same.
    """
    digest = hashlib.sha256()
    with open(jsonl, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                example = json.loads(line)
                pair = [example["prompt"], example["completion"]]
                digest.update(json.dumps(pair, sort_keys=True, ensure_ascii=False).encode())
                digest.update(b"\n")
    return digest.hexdigest()


class HeldOut(BaseModel):
    """What the adapter scored on held-out steps when it was built."""

    examples: int
    next_tool_accuracy: float
    prompt_tokens: float | None = None


class ToolRoleModel(BaseModel):
    """A LoRA adapter for the LLM calls inside real tools (``gba_core.roles``), shipped
    beside a planner: what it was trained on and how it scored per role."""

    adapter: str = Field(description="the LoRA adapter GGUF, relative to the manifest")
    adapter_sha256: str
    roles: list[str] = Field(description="the tool roles trained, as tool/role")
    dataset_sha256: str = Field(description="sha256 of the packaged role examples")
    dataset_examples: int
    recipe: list[str]
    heldout_examples: int
    heldout_accuracy: dict[str, float] = Field(description="tool/role -> held-out accuracy")


class PlannerManifest(BaseModel):
    """Everything a shipped planner was built from, so staleness can be checked."""

    name: str
    planner: str = Field("fine-tuned", description="the planner whose prompts it was trained on")
    base_llm: str = Field(DEFAULT_LLM, description="the spec of the base model")
    base_sha256: str
    adapter: str = Field(description="the LoRA adapter GGUF, relative to the manifest")
    adapter_sha256: str
    tools: dict[str, str] = Field(description="tool name -> sha256 of its description")
    dataset_sha256: str = Field(description="sha256 of the packaged training examples")
    dataset_examples: int
    recipe: list[str] = Field(description="the gba commands that built it, in order")
    heldout: HeldOut
    built: date
    gba_version: str
    tool_roles: ToolRoleModel | None = Field(
        None, description="the tool-role adapter shipped with the planner, if any"
    )


def _with_lora(base: str, adapter: Path) -> str:
    return f"{base}?lora={quote(str(adapter), safe='/:')}"


@dataclass(frozen=True)
class ShippedPlanner:
    """A manifest and the folder it lies in."""

    manifest: PlannerManifest
    folder: Path

    @classmethod
    def from_folder(cls, folder: Path | str) -> ShippedPlanner:
        folder = Path(folder)
        path = folder / MANIFEST
        try:
            manifest = PlannerManifest.model_validate_json(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the planner manifest {path}: {exc}") from exc
        return cls(manifest, folder)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def adapter_path(self) -> Path:
        return self.folder / self.manifest.adapter

    def llm_spec(self) -> str:
        return _with_lora(self.manifest.base_llm, self.adapter_path)

    def tool_llm_spec(self) -> str | None:
        """The model for real tools' LLM calls: the base with the tool-role adapter."""
        roles = self.manifest.tool_roles
        if roles is None:
            return None
        return _with_lora(self.manifest.base_llm, self.folder / roles.adapter)

    def unknown_tools(self, installed: Iterable[str]) -> list[str]:
        """Installed tools the planner was not trained on."""
        return sorted(set(installed) - set(self.manifest.tools))


@dataclass(frozen=True)
class PlannerChoice:
    """Which planner runs, on which model, and why (for `gba planners` and notes)."""

    planner: str
    llm_spec: str
    reason: str
    shipped: ShippedPlanner | None = None
    # One line for the user when gba chose something they might not expect.
    note: str | None = None


def choose_tool_llm(tool_spec: str, spec_source: str, choice: PlannerChoice) -> str:
    """The model for real tools' LLM calls: the user's if they chose one, else the
    tool-role adapter shipped with the chosen planner, else the default."""
    if spec_source != "default" or choice.shipped is None:
        return tool_spec
    if choice.shipped.manifest.base_llm != tool_spec:
        return tool_spec
    return choice.shipped.tool_llm_spec() or tool_spec


def choose_planner(
    requested: str | None,
    planner_spec: str,
    spec_source: str,
    tool_names: Iterable[str],
    shipped: Mapping[str, ShippedPlanner],
) -> PlannerChoice:
    """The planner and model for a run.

    ``requested`` is the planner the user named (None: gba chooses). ``planner_spec``
    and ``spec_source`` come from ``llm_spec_for("planner")``: a model the user chose for
    the planner role is used as given. On the embedded default, a shipped planner that
    knows every installed tool is used; ``fine-tuned`` without one is an error, since
    the base model without tool descriptions would only guess. ``shipped`` is what
    ``registry.shipped_planners()`` returns.
    """
    if spec_source != "default":
        return PlannerChoice(
            requested or "zero-shot", planner_spec, f"the planner model from {spec_source}"
        )
    if requested is not None and requested not in TRAINED_PLANNERS:
        return PlannerChoice(requested, planner_spec, "named on the command line")
    names = sorted(set(tool_names))
    candidates = [s for s in shipped.values() if s.manifest.base_llm == planner_spec]
    for candidate in sorted(candidates, key=lambda s: s.name):
        if not candidate.unknown_tools(names):
            return PlannerChoice(
                candidate.manifest.planner,
                candidate.llm_spec(),
                f"shipped planner {candidate.name!r} knows all {len(names)} installed tools",
                shipped=candidate,
            )
    if candidates:
        best = min(candidates, key=lambda s: (len(s.unknown_tools(names)), s.name))
        missing = best.unknown_tools(names)
        why = f"shipped planner {best.name!r} does not know {', '.join(missing)}"
    else:
        why = f"no shipped planner is installed for {planner_spec}"
    if requested is not None:
        raise ConfigError(
            f"--planner {requested} needs a fine-tuned model ({why}): pass "
            "--planner-llm 'llama-cpp:BASE.gguf?lora=ADAPTER.gguf' (see `gba train export`)"
        )
    return PlannerChoice(
        "zero-shot",
        planner_spec,
        f"zero-shot with tool descriptions: {why}",
        note=f"Using the zero-shot planner: {why}.",
    )

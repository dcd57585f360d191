"""The LLM calls inside real tools ("tool roles"), and examples to train and measure them.

A real tool that asks its LLM something (a function's arguments, a calculation's code,
a search note, the final answer) declares each such call as a ``ToolRole``: its prompt
template, its answer schema and how to tell a right answer. The tool asks through the
role at run time, and packaging renders role examples through the same role, so a model
trained on them sees the prompts inference sends. A role example is typed: the prompt's
inputs in, the target answer out, plus what a right answer must contain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from gba_core.errors import ConfigError, InvalidOutputError
from gba_core.llm.base import Message, SchemaLike
from gba_core.prompts import render_messages
from gba_core.schema import Scratchpad, TrainingExample

if TYPE_CHECKING:
    from gba_core.tools import Tool, ToolContext

EXAMPLES_FOLDER = "role_examples"
# Prose in an answer is right when it has this share of the target's words: "Picking
# up the keys" for "Pick up the keys next Monday" says the same, a wrong date does not.
PROSE_OVERLAP = 0.6


class RoleExample(BaseModel):
    """One call of a tool role: the prompt's inputs and the answer it should get."""

    id: str
    split: Literal["train", "heldout"]
    tool: str
    role: str
    today: date
    request: str = ""
    task: str
    scratchpad: Scratchpad = Field(default_factory=list)
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="the role's other template variables"
    )
    target: dict[str, Any] | str = Field(description="the answer: schema fields, or text")
    expected: Any = Field(
        None,
        description="what a right answer gives: regexes it must match, or the value the"
        " role's own check compares against (a calculation's number)",
    )


# A pydantic schema's answer, plain text, or the JSON object a dict schema's answer is.
Output = BaseModel | str | dict[str, Any]
Check = Callable[["RoleExample", Output], bool]


def _normal(text: str) -> str:
    return " ".join(str(text).casefold().split()).rstrip(".")


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def same_value(target: Any, got: Any) -> bool:
    """Whether an answer field says what the target says: a single token (an address, a
    date, a time) verbatim up to case, prose (a title, an email body) by sharing most of
    its words, anything else equal."""
    if isinstance(target, str) and isinstance(got, str):
        if len(target.split()) <= 1:
            return _normal(target) == _normal(got)
        want = _words(target)
        return len(want & _words(got)) >= PROSE_OVERLAP * len(want)
    return bool(target == got)


def output_text(output: Output) -> str:
    """The text of an answer: the string fields of a structured one, joined."""
    if isinstance(output, str):
        return output
    fields = output if isinstance(output, dict) else output.model_dump(mode="json")
    return " ".join(str(v) for v in fields.values())


def matches_expected(example: RoleExample, output: Output) -> bool:
    """Every regex in ``example.expected`` is found in the answer (case-insensitive)."""
    text = output_text(output)
    return all(re.search(pattern, text, re.I) for pattern in example.expected)


@dataclass(frozen=True)
class ToolRole:
    """One LLM call a tool makes: render ``template`` and answer as ``schema`` (plain text
    when None). ``variables`` are fixed template variables (a function's name);
    ``examples`` are files in the ``role_examples/`` folder of ``examples_package``
    (default: ``package``); ``check`` tells a right answer (default: the ``expected``
    regexes, else the target's fields)."""

    name: str
    template: str
    package: str = "gba_core"
    # A pydantic model, or a JSON schema dict (an MCP tool's inputSchema): then the
    # answer is the parsed JSON, checked by the decoder, not validated here.
    schema: SchemaLike | None = None
    max_tokens: int = 512
    variables: Mapping[str, Any] = field(default_factory=dict)
    examples: tuple[str, ...] = ()
    examples_package: str | None = None
    check: Check | None = None

    def messages(
        self,
        *,
        request: str,
        task: str,
        scratchpad: Scratchpad,
        today: date | None,
        **inputs: Any,
    ) -> list[Message]:
        return render_messages(
            self.template,
            package=self.package,
            request=request,
            task=task,
            scratchpad=scratchpad,
            today=today,
            **self.variables,
            **inputs,
        )

    def ask(
        self, ctx: ToolContext, *, request: str, task: str, scratchpad: Scratchpad, **inputs: Any
    ) -> Any:
        """The tool LLM's answer: a ``schema`` instance (validated), or stripped text."""
        messages = self.messages(
            request=request, task=task, scratchpad=scratchpad, today=ctx.today, **inputs
        )
        completion = ctx.llm.complete(messages, schema=self.schema, max_tokens=self.max_tokens)
        return completion.parsed if self.schema else completion.content.strip()

    def example_messages(self, example: RoleExample) -> list[Message]:
        return self.messages(
            request=example.request,
            task=example.task,
            scratchpad=example.scratchpad,
            today=example.today,
            **example.inputs,
        )

    def completion(self, example: RoleExample) -> str:
        """The target as the model writes it: compact JSON in the schema's field order
        (what the grammar lets it write), or the text."""
        if self.schema is None:
            if not isinstance(example.target, str):
                raise ConfigError(f"role example {example.id}: the target must be text")
            return example.target
        if isinstance(self.schema, dict):
            return json.dumps(example.target, ensure_ascii=False)
        answer = self.schema.model_validate(example.target)
        return json.dumps(answer.model_dump(mode="json"), ensure_ascii=False)

    def correct(self, example: RoleExample, output: Output) -> bool:
        if self.check is not None:
            return self.check(example, output)
        if isinstance(example.expected, list):
            return matches_expected(example, output)
        if isinstance(example.target, str):
            return same_value(example.target, output_text(output))
        got = output.model_dump(mode="json") if isinstance(output, BaseModel) else output
        if not isinstance(got, dict):
            got = {}
        # Through the schema, so "14:20" and a parsed 14:20:00 compare equal.
        model = self.schema if self.schema and not isinstance(self.schema, dict) else None
        want = model.model_validate(example.target) if model else None
        target = want.model_dump(mode="json") if want else example.target
        return all(same_value(v, got.get(k)) for k, v in target.items())

    def load_examples(self, tool: str) -> list[RoleExample]:
        """This role's examples for ``tool`` from the package's example files."""
        package = self.examples_package or self.package
        folder = resources.files(package).joinpath(EXAMPLES_FOLDER)
        found: list[RoleExample] = []
        for name in self.examples:
            try:
                lines = folder.joinpath(name).read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(f"cannot read role examples {package}/{name}: {exc}") from exc
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    example = RoleExample.model_validate_json(line)
                except ValueError as exc:
                    where = f"{package}/{EXAMPLES_FOLDER}/{name}:{number}"
                    raise ConfigError(f"{where}: {exc}") from exc
                if example.tool == tool and example.role == self.name:
                    found.append(example)
        return found


@dataclass(frozen=True)
class RoleCase:
    """A role example with the tool role that renders and checks it."""

    tool: str
    role: ToolRole
    example: RoleExample


def role_cases(tools: Mapping[str, Tool], split: str | None = None) -> list[RoleCase]:
    """Every role example of the given tools (one ``split``, or all), in tool order."""
    cases = []
    for name, tool in tools.items():
        for role in tool.roles:
            for example in role.load_examples(name):
                if split is None or example.split == split:
                    cases.append(RoleCase(name, role, example))
    return cases


def prompt_completion(case: RoleCase) -> TrainingExample:
    """A role example as a packaged training row, typed as the planner's rows are."""
    return TrainingExample.model_validate(
        {
            "prompt": case.role.example_messages(case.example),
            "completion": [{"role": "assistant", "content": case.role.completion(case.example)}],
            "role": f"{case.tool}/{case.role.name}",
            "example_id": case.example.id,
        }
    )


@dataclass(frozen=True)
class RoleResult:
    """One role example answered by a model: right or not, what it wrote, how long."""

    role: str
    example_id: str
    correct: bool
    output: str
    seconds: float


def evaluate_roles(
    cases: list[RoleCase], llm: Any, on_done: Callable[[RoleResult], None] | None = None
) -> list[RoleResult]:
    """Ask ``llm`` each case's prompt, greedily, as the tool would, and check the answer
    with the role's own check. Output that fails the schema counts as wrong."""
    results = []
    for case in cases:
        role = case.role
        messages = role.example_messages(case.example)
        try:
            completion = llm.complete(messages, schema=role.schema, max_tokens=role.max_tokens)
            output: Output = completion.parsed if role.schema else completion.content.strip()
            correct, text, seconds = (
                role.correct(case.example, output),
                completion.content,
                completion.seconds,
            )
        except InvalidOutputError as exc:
            correct, text, seconds = False, f"invalid: {exc}", 0.0
        result = RoleResult(f"{case.tool}/{role.name}", case.example.id, correct, text, seconds)
        results.append(result)
        if on_done:
            on_done(result)
    return results

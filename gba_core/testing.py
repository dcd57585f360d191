"""Test kit for gba and its plugins, loaded by pytest through the ``pytest11`` entry point.

Fixtures:

* ``scripted_llm`` — a fresh ``ScriptedLLM`` (queued answers, records calls);
* ``register_plugin`` — ``register_plugin(obj, name=None)`` registers a plugin object
  (a module, class or instance with ``@hookimpl`` functions) and unregisters it after
  the test;
* ``scripted_backend`` — registers the ``scripted:`` LLM prefix answering from
  ``scripted_llm``, so CLI tests can pass ``--llm scripted:test``;
* ``fresh_plugins`` — reloads plugins from scratch before and after the test (use with
  ``monkeypatch.setenv`` for ``GBA_PLUGINS`` and friends).

``check_tool_pair(real, simulated)`` is the conformance check a tool plugin runs on each
of its real/simulated pairs; ``plan_answer(tool, task)`` is a planner answer to queue on a
``ScriptedLLM``; ``chat_completion(content)`` is the body a loopback OpenAI-compatible
server returns; ``LoopbackOpenAI(reply, delay=)`` is such a server, and
``play_agent_roles`` a reply that plays planner, twins and judge for any tool set.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gba_core import hookimpl, plugins
from gba_core.llm.scripted import ScriptedLLM
from gba_core.schema import ScratchpadEntry, Trajectory, plan_model
from gba_core.tools import TOOL_NAME, SimulatedTool, Tool, ToolContext

__all__ = [
    "LoopbackOpenAI",
    "ScriptedLLM",
    "chat_completion",
    "check_plans",
    "check_tool_pair",
    "plan_answer",
    "play_agent_roles",
]

_counter = itertools.count()


@pytest.fixture
def scripted_llm() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def register_plugin() -> Iterator[Callable[..., str]]:
    names: list[str] = []

    def register(plugin: object, name: str | None = None) -> str:
        name = name or f"test-plugin-{next(_counter)}"
        plugins.register_plugin(plugin, name)
        names.append(name)
        return name

    yield register
    for name in reversed(names):
        plugins.unregister_plugin(name)


@pytest.fixture
def scripted_backend(register_plugin: Callable[..., str], scripted_llm: ScriptedLLM) -> ScriptedLLM:
    class ScriptedBackend:
        @hookimpl
        def register_llms(self, register: Callable[..., None]) -> None:
            def factory(name: str, **options: Any) -> ScriptedLLM:
                scripted_llm.spec = f"scripted:{name}"
                return scripted_llm

            register("scripted", factory, help="scripted answers for tests")

    register_plugin(ScriptedBackend(), "scripted-backend")
    return scripted_llm


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    plugins.reset()
    yield
    plugins.reset()


def plan_answer(tool: str, task: str = "Do the next thing.", **fields: str) -> dict[str, str]:
    """A planner's JSON answer selecting ``tool``, to queue on a ``ScriptedLLM``."""
    return {
        "selected_tool": tool,
        "context_information_summary": fields.get("context_information_summary", "-"),
        "thoughts": fields.get("thoughts", "-"),
        "task": task,
    }


def chat_completion(content: str, *, prompt_tokens: int = 5, completion_tokens: int = 3) -> dict:
    """The JSON body of an OpenAI-compatible chat completion answering ``content``: what a
    loopback server in a test returns to the ``openai:`` backend."""
    return {
        "id": "test",
        "object": "chat.completion",
        "created": 0,
        "model": "test",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def check_tool_pair(
    real: Tool,
    simulated: SimulatedTool,
    *,
    request: str = "Help me with my plans for Saturday.",
    task: str = "Do what the tool does for Saturday's plans.",
    simulated_answer: str = "Done: the simulated result for Saturday.",
) -> None:
    """Assert that a real tool and its simulated twin honour the tool contract.

    Checks names, descriptions and types, then runs the twin on a scripted simulator
    LLM and checks that it asked the LLM about the task and returned the answer as text.
    Real tools act on the world, so their plugin tests run them against real services.
    """
    assert isinstance(real, Tool) and not isinstance(real, SimulatedTool), (
        f"{real!r} must be a Tool and not a SimulatedTool"
    )
    assert isinstance(simulated, SimulatedTool), f"{simulated!r} must be a SimulatedTool"
    assert TOOL_NAME.match(real.name), f"tool name {real.name!r} is not lower_snake_case"
    assert real.name == simulated.name, f"names differ: {real.name!r} vs {simulated.name!r}"
    assert real.description.strip(), f"{real.name}: empty description"
    assert real.description == simulated.description, (
        f"{real.name}: the twin's description differs from the real tool's"
    )
    llm = ScriptedLLM(default=simulated_answer)
    scratchpad = [ScratchpadEntry(task="Look up the weather", tool="x", result="Sunny, 21 °C")]
    ctx = ToolContext(llm=llm)
    result = simulated.run(request, task, scratchpad, ctx)
    assert isinstance(result, str) and result.strip(), f"{simulated.name}: empty simulated result"
    assert llm.calls, f"{simulated.name}: the twin did not ask the simulator LLM"
    assert any(task in call.prompt for call in llm.calls), (
        f"{simulated.name}: the simulator was not shown the task"
    )


def check_plans(trajectory: Trajectory, tool_names: list[str]) -> None:
    """Assert that every step of ``trajectory`` has a plan valid for ``tool_names`` (the
    schema handed to the model), e.g. after a run on a real model."""
    model = plan_model(tool_names)
    for step in trajectory.steps:
        assert not step.invalid_plan, f"step {step.index + 1}: {step.observation}"
        model.model_validate(step.plan.model_dump())  # type: ignore[union-attr]


class LoopbackOpenAI:
    """An OpenAI-compatible chat server on 127.0.0.1 in a thread, for tests and
    benchmarks of code that talks to remote models.

    ``reply(body)`` gets each request's JSON body and returns the answer's text, or
    ``(status, payload)`` or ``(status, payload, headers)`` for errors; ``delay``
    seconds pass before each answer, like a remote model's latency. ``bodies`` keeps
    every request. Use it as a context manager; ``spec(model)`` is the ``openai:`` LLM
    spec pointing at it.
    """

    def __init__(self, reply: Callable[[dict[str, Any]], Any], *, delay: float = 0.0) -> None:
        import json
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.bodies.append(body)
                if server.delay:
                    time.sleep(server.delay)
                answer = server.reply(body)
                if not isinstance(answer, tuple):
                    answer = (200, chat_completion(answer))
                status, payload, headers = (*answer, {})[:3]
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout under test)

        self.reply, self.delay = reply, delay
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.request_queue_size = 128  # many workers connect at once
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def spec(self, model: str = "test", **options: Any) -> str:
        query = "".join(f"&{k}={v}" for k, v in options.items())
        return f"openai:{model}?base_url={self.base_url}{query}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LoopbackOpenAI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def play_agent_roles(body: dict[str, Any]) -> str:
    """A ``LoopbackOpenAI`` reply playing every role of a simulation for any tool set:
    the planner picks the first tool of its schema other than final_answer, then
    final_answer once a result is in the prompt; twins and the final answer write text
    derived from the prompt; judges rate 4. Deterministic, so replays can be compared."""
    import hashlib
    import json

    text = "\n".join(str(m.get("content", "")) for m in body["messages"])
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    fmt = body.get("response_format") or {}
    schema = fmt.get("json_schema", {}).get("schema") or fmt.get("schema")
    if schema is None:
        return f"RESULT-{digest}: done."
    properties = schema.get("properties", {})
    if "selected_tool" in properties:
        choice = properties["selected_tool"]
        tools = choice.get("enum") or [choice.get("const", "final_answer")]
        others = [t for t in tools if t != "final_answer"]
        tool = "final_answer" if "RESULT-" in text or not others else others[0]
        plan = {name: f"{name} {digest}" for name in properties}
        return json.dumps({**plan, "task": f"Do step {digest}", "selected_tool": tool})
    if "final_answer_rating" in properties:
        return json.dumps({"final_answer_rating": 4, "explanation": "fine"})
    if "task_rating" in properties:
        return json.dumps(
            {"task_rating": 4, "tool_rating": 4, "result_rating": 4, "explanation": "fine"}
        )
    return json.dumps({name: "x" for name in properties})

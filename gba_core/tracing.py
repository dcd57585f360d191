"""Optional OpenTelemetry spans of agent runs, after the GenAI semantic conventions.

Off unless ``GBA_OTEL`` is set, and then free of cost when off: the agent holds no
tracer and opens no span. With it on, one run is a tree of spans:

    invoke_agent gba                  gen_ai.operation.name=invoke_agent, gba.status, gba.steps
      step 1                          gba.step.index
        plan <planner>                gba.planner
          chat <model>                gen_ai.usage.input_tokens / output_tokens, gba.seconds
        execute_tool <tool>           gen_ai.tool.name, gba.tool.error
          chat <model>                (the tool's own LLM calls)
      step 2 ...

``GBA_OTEL=1`` sends them to the tracer provider the program set (an application that
embeds gba, or ``opentelemetry-instrument``); ``GBA_OTEL=otlp`` makes one that exports
over OTLP/HTTP (``OTEL_EXPORTER_OTLP_ENDPOINT``; needs opentelemetry-exporter-otlp),
``GBA_OTEL=console`` one that prints them on stderr. Request and answer texts are not recorded:
they may be private, and the conventions leave content to opt-in events.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from gba_core.errors import ConfigError
from gba_core.llm.base import LLM, Completion, LLMWrapper, Message

OFF = ("", "0", "off", "no", "false")
_configured: set[str] = set()


def tracer() -> Any | None:
    """The tracer runs report to, or None when tracing is off (``GBA_OTEL`` unset)."""
    mode = os.environ.get("GBA_OTEL", "").strip().lower()
    if mode in OFF:
        return None
    try:
        from opentelemetry import trace
    except ImportError:
        raise ConfigError(
            "GBA_OTEL is set but OpenTelemetry is not installed "
            "(pip install opentelemetry-sdk opentelemetry-exporter-otlp)"
        ) from None
    if mode in ("console", "otlp") and mode not in _configured:
        _configure(mode)
    return trace.get_tracer("gba")


def _configure(mode: str) -> None:
    from opentelemetry import trace

    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

        if mode == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter: Any = OTLPSpanExporter()
        else:
            # stderr: stdout is the command's own output (`gba run --json`).
            exporter = ConsoleSpanExporter(out=sys.stderr)
    except ImportError as exc:
        raise ConfigError(f"GBA_OTEL={mode} needs {exc.name} (pip install it)") from None
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    atexit.register(provider.shutdown)  # the last spans are sent before gba exits
    _configured.add(mode)


def span(tracer: Any | None, name: str, **attributes: Any) -> Any:
    """A span under the current one, or a context that does nothing (tracing off)."""
    if tracer is None:
        return nullcontext(None)
    return _span(tracer, name, attributes)


@contextmanager
def _span(tracer: Any, name: str, attributes: dict[str, Any]) -> Iterator[Any]:
    clean = {k: v for k, v in attributes.items() if v is not None}
    with tracer.start_as_current_span(name, attributes=clean) as current:
        yield current


class TracedLLM(LLMWrapper):
    """An LLM whose every call is a ``chat`` span with its tokens and seconds."""

    def __init__(self, inner: LLM, tracer: Any) -> None:
        super().__init__(inner)
        self.tracer = tracer

    def complete(self, messages: list[Message], **options: Any) -> Completion:
        provider, _, rest = self.spec.partition(":")
        # Options after "?" may hold a key: only the model's name goes out.
        model = rest.split("?", 1)[0] or provider
        with span(
            self.tracer,
            f"chat {model}",
            **{
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": model,
                "gen_ai.request.max_tokens": options.get("max_tokens"),
                "gen_ai.request.temperature": options.get("temperature"),
            },
        ) as current:
            completion = super().complete(messages, **options)
            current.set_attribute("gen_ai.usage.input_tokens", completion.prompt_tokens)
            current.set_attribute("gen_ai.usage.output_tokens", completion.completion_tokens)
            current.set_attribute("gba.seconds", completion.seconds)
            current.set_attribute("gba.cached", completion.cached)
            return completion

"""The ``openai:`` backend: any OpenAI-compatible endpoint through the ``openai`` package.

Structured output uses a strict ``json_schema`` response format. Servers that reject it
(llama.cpp's server answers HTTP 500 to that form but enforces
``{"type": "json_object", "schema": ...}``) are switched to the fallback once, and the
choice is remembered for the endpoint. Every answer is validated with pydantic; timeouts,
5xx answers and invalid JSON are retried a bounded number of times with backoff.
"""

from __future__ import annotations

import os
import time
from typing import Any

from gba_core.errors import ConfigError, InvalidOutputError, LLMError, LLMUnavailableError
from gba_core.llm.base import Completion, Message, SchemaLike, parse_output, schema_dict
from gba_core.secrets import redact, remember

DEFAULT_TIMEOUT = 120.0
DEFAULT_RETRIES = 3


def _strictify(schema: Any) -> Any:
    """OpenAI's strict mode wants every object closed and every property required."""
    if isinstance(schema, dict):
        out = {k: _strictify(v) for k, v in schema.items()}
        if out.get("type") == "object" and "properties" in out:
            out["additionalProperties"] = False
            out["required"] = list(out["properties"])
        return out
    if isinstance(schema, list):
        return [_strictify(v) for v in schema]
    return schema


def _refuses_json_schema(exc: Any) -> bool:
    """Whether an error says the server does not take OpenAI's json_schema form
    (llama.cpp's server: HTTP 500 "Input should be 'text' or 'json_object'")."""
    # 400 is left out: OpenAI itself answers 400 to a schema its strict mode rejects,
    # and that is a bug to report, not a reason to stop enforcing the schema.
    message = str(getattr(exc, "message", "") or exc)
    return exc.status_code in (422, 500) and (
        "response_format" in message or "json_schema" in message
    )


def _without_credentials(url: str) -> str:
    """``url`` without a ``user:password@`` part."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


class OpenAICompatLLM:
    """``openai:MODEL?base_url=...``; ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` apply."""

    # Endpoints known to refuse the json_schema response format (shared per process).
    _json_object_endpoints: set[str] = set()  # noqa: RUF012

    def __init__(
        self,
        name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | str = DEFAULT_TIMEOUT,
        retries: int | str = DEFAULT_RETRIES,
        backoff: float | str = 0.5,
    ) -> None:
        if not name:
            raise ConfigError("the openai backend needs a model name: openai:MODEL")
        import openai

        self.name = name
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        # Local servers need no key, but the client insists on one.
        key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        remember(key if key != "not-needed" else None)
        if self.base_url:
            from urllib.parse import urlsplit

            remember(urlsplit(self.base_url).password)
        # The endpoint is part of the identity (cache keys, trajectories); the key is not,
        # nor are credentials written into the URL.
        public = _without_credentials(self.base_url) if self.base_url else None
        self.spec = f"openai:{name}" + (f"?base_url={public}" if public else "")
        self.retries = int(retries)
        self.backoff = float(backoff)
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=key, timeout=float(timeout), max_retries=0
        )

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if str(self._client.base_url) in self._json_object_endpoints:
            return {"type": "json_object", "schema": schema}
        return {
            "type": "json_schema",
            "json_schema": {"name": "output", "strict": True, "schema": _strictify(schema)},
        }

    def _create(self, **kwargs: Any) -> Any:
        openai = self._openai
        try:
            return self._client.chat.completions.create(**kwargs)
        except openai.APIConnectionError as exc:
            if isinstance(exc, openai.APITimeoutError):
                raise
            where = _without_credentials(str(self._client.base_url))
            raise LLMUnavailableError(
                redact(f"cannot reach the OpenAI-compatible endpoint at {where}: {exc}")
            ) from exc

    def complete(
        self,
        messages: list[Message],
        *,
        schema: SchemaLike | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
    ) -> Completion:
        openai = self._openai
        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": list(messages),
            "temperature": temperature,
        }
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        if seed is not None:
            kwargs["seed"] = seed
        json_schema = schema_dict(schema) if schema is not None else None
        last_error: Exception | None = None
        start = time.perf_counter()
        attempt = 0
        while attempt <= self.retries:
            wait_at_least = 0.0
            if json_schema is not None:
                kwargs["response_format"] = self._response_format(json_schema)
            try:
                response = self._create(**kwargs)
            except openai.APIStatusError as exc:
                fmt = kwargs.get("response_format", {})
                if fmt.get("type") == "json_schema" and _refuses_json_schema(exc):
                    # Not a failed attempt: ask again at once in the form it takes.
                    self._json_object_endpoints.add(str(self._client.base_url))
                    continue
                if exc.status_code < 500 and exc.status_code != 429:
                    # A server may echo the key it was sent ("Incorrect API key: sk-...").
                    message = redact(f"{self.spec}: HTTP {exc.status_code}: {exc.message}")
                    raise LLMError(message) from exc
                last_error = exc
                wait_at_least = _retry_after(exc)
            except openai.APITimeoutError as exc:
                last_error = exc
            else:
                choice = response.choices[0]
                content = choice.message.content or ""
                usage = response.usage
                completion = Completion(
                    content=content,
                    prompt_tokens=usage.prompt_tokens if usage else 0,
                    completion_tokens=usage.completion_tokens if usage else 0,
                    seconds=time.perf_counter() - start,
                    model=self.spec,
                    extra={"finish_reason": choice.finish_reason, "attempts": attempt + 1},
                )
                if schema is None:
                    return completion
                try:
                    completion.parsed = parse_output(content, schema)
                    return completion
                except InvalidOutputError as exc:
                    last_error = exc
            attempt += 1
            if attempt <= self.retries:
                backoff = min(self.backoff * 2.0 ** (attempt - 1), 20.0)
                time.sleep(max(backoff, wait_at_least))
        if isinstance(last_error, InvalidOutputError):
            raise last_error
        raise LLMError(
            redact(f"{self.spec}: no valid answer after {self.retries + 1} attempts: {last_error}")
        )


def _retry_after(exc: Any) -> float:
    """Seconds a 429 or 5xx answer asks the client to wait (``Retry-After`` in seconds),
    capped at a minute; 0 when it says nothing."""
    try:
        value = float(exc.response.headers.get("retry-after", 0))
    except (AttributeError, TypeError, ValueError):
        return 0.0
    return min(max(value, 0.0), 60.0)

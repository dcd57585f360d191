"""The openai: backend against a loopback HTTP server that misbehaves on purpose."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import BaseModel

from gba_core.errors import InvalidOutputError, LLMError
from gba_core.llm.openai_compat import OpenAICompatLLM
from gba_core.registry import get_llm
from gba_core.testing import LoopbackOpenAI, chat_completion


class City(BaseModel):
    name: str


@pytest.fixture
def server():
    """Answers each POST with the next (status, body) of `script`; records requests."""
    state = {"script": [], "requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["requests"].append(body)
            status, payload = state["script"].pop(0)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield state
    httpd.shutdown()


def llm(server, **kwargs):
    OpenAICompatLLM._json_object_endpoints.discard(server["url"] + "/")
    return OpenAICompatLLM("m", base_url=server["url"], backoff=0, **kwargs)


def test_strict_json_schema_is_sent_and_validated(server):
    server["script"] = [(200, chat_completion('{"name": "Paris"}'))]
    out = llm(server).complete([{"role": "user", "content": "Capital?"}], schema=City)
    assert out.parsed == City(name="Paris")
    assert (out.prompt_tokens, out.completion_tokens) == (5, 3)
    fmt = server["requests"][0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["additionalProperties"] is False


def test_falls_back_to_json_object_when_json_schema_is_refused(server):
    server["script"] = [
        (500, {"error": {"message": "Unrecognized response_format type"}}),
        (200, chat_completion('{"name": "Paris"}')),
        (200, chat_completion('{"name": "Rome"}')),
    ]
    model = llm(server)
    assert model.complete([{"role": "user", "content": "?"}], schema=City).parsed.name == "Paris"
    second = server["requests"][1]["response_format"]
    assert second["type"] == "json_object" and second["schema"]["required"] == ["name"]
    # the endpoint is remembered: the next call goes straight to the fallback
    model.complete([{"role": "user", "content": "?"}], schema=City)
    assert server["requests"][2]["response_format"]["type"] == "json_object"


def test_the_switch_to_the_fallback_is_not_a_retry(server):
    server["script"] = [
        (500, {"error": {"message": "Input should be 'text' or 'json_object' (response_format)"}}),
        (200, chat_completion('{"name": "Paris"}')),
    ]
    out = llm(server, retries=0).complete([{"role": "user", "content": "?"}], schema=City)
    assert out.parsed.name == "Paris" and out.extra["attempts"] == 1


def test_a_plain_server_error_does_not_switch_the_format(server):
    server["script"] = [
        (500, {"error": {"message": "out of memory"}}),
        (200, chat_completion('{"name": "Paris"}')),
    ]
    llm(server).complete([{"role": "user", "content": "?"}], schema=City)
    assert [r["response_format"]["type"] for r in server["requests"]] == ["json_schema"] * 2


def test_invalid_json_and_server_errors_are_retried_then_reported(server):
    server["script"] = [
        (503, {"error": {"message": "busy"}}),
        (200, chat_completion("not json")),
        (200, chat_completion('{"name": "Paris"}')),
    ]
    out = llm(server, retries=2).complete([{"role": "user", "content": "?"}], schema=City)
    assert out.parsed.name == "Paris" and out.extra["attempts"] == 3
    server["script"] = [(200, chat_completion('{"city": 1}'))] * 2
    with pytest.raises(InvalidOutputError, match="does not match the schema"):
        llm(server, retries=1).complete([{"role": "user", "content": "?"}], schema=City)


def test_client_errors_are_not_retried(server):
    server["script"] = [(401, {"error": {"message": "bad key"}})]
    with pytest.raises(LLMError, match="HTTP 401"):
        llm(server).complete([{"role": "user", "content": "?"}])
    assert len(server["requests"]) == 1


def test_a_429_waits_as_long_as_retry_after_asks():
    answers = iter([(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"}), "ok"])
    with LoopbackOpenAI(lambda body: next(answers)) as server:
        llm = get_llm(server.spec("m", retries=1, backoff=0))
        start = time.perf_counter()
        assert llm.complete([{"role": "user", "content": "hi"}]).content == "ok"
        assert time.perf_counter() - start >= 1.0  # not the zero backoff
        assert len(server.bodies) == 2


def test_credentials_in_the_endpoint_url_stay_out_of_the_spec():
    llm = get_llm("openai:m?base_url=http://alice:s3cret@127.0.0.1:9/v1&api_key=sk-x")
    assert llm.spec == "openai:m?base_url=http://127.0.0.1:9/v1"


def test_a_key_the_server_echoes_is_kept_out_of_errors_and_trajectories(server, tmp_path):
    key = "sk-test-Echoed-4f9a"
    echo = {"error": {"message": f"Incorrect API key provided: {key}"}}
    server["script"] = [(401, echo)]
    with pytest.raises(LLMError) as raised:
        llm(server, api_key=key).complete([{"role": "user", "content": "?"}])
    assert key not in str(raised.value) and "Incorrect API key provided: ***" in str(raised.value)
    # through the CLI: the one-line error, and gba sim's stored failure
    from click.testing import CliRunner

    from gba_core.cli import cli

    spec = f"openai:m?base_url={server['url']}&api_key={key}&retries=0"
    server["script"] = [(401, echo)] * 4
    result = CliRunner().invoke(cli, ["run", "hi", "--llm", spec])
    assert result.exit_code != 0 and "Incorrect API key provided: ***" in result.output
    assert key not in result.output

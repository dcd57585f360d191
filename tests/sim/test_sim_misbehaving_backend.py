"""`gba sim trajectories` against a misbehaving OpenAI-compatible server on loopback:
5xx, timeouts and invalid JSON are retried, then kept as items; the run goes on."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.schema import Request
from gba_core.testing import chat_completion
from gba_sim.db import RunsDB


def plan(tool, task):
    return json.dumps(
        {
            "user_request": "r",
            "context_information_summary": "c",
            "missing_information_or_action": "m",
            "thoughts": "t",
            "task": task,
            "selected_tool": tool,
        }
    )


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = "\n".join(m["content"] for m in body["messages"])
        self.server.hits.append(text[-40:])
        if "FAIL" in text:
            return self.reply(500, {"error": {"message": "internal error"}})
        if "SLOW" in text:
            time.sleep(2.5)
        if "response_format" in body:
            if "GARBAGE" in text:
                content = "this is not json"
            elif "FACT-FOUND" in text:
                content = plan("final_answer", "Answer with the fact")
            else:
                content = plan("lookup_fact", "Look up the fact")
        else:
            content = "FACT-FOUND: 42" if "simulate the tool" in text else "It is 42."
        return self.reply(
            200,
            chat_completion(content, prompt_tokens=10, completion_tokens=5),
        )

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.hits = []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_failures_are_retried_then_kept_and_the_run_goes_on(
    server, tmp_path, lookup_plugin, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    db_path = tmp_path / "runs.sqlite"
    db = RunsDB(db_path)
    db.add_requests(
        [
            Request(id="ok", text="Question?"),
            Request(id="fail", text="Please FAIL"),
            Request(id="slow", text="Go SLOW"),
            Request(id="garbage", text="GARBAGE please"),
        ]
    )
    db.close()
    port = server.server_address[1]
    spec = f"openai:m?base_url=http://127.0.0.1:{port}/v1&retries=1&backoff=0&timeout=1"
    result = CliRunner().invoke(
        cli,
        [
            "sim",
            "trajectories",
            "--db",
            str(db_path),
            "--llm",
            spec,
            "--max-steps",
            "3",
            "--run",
            "r",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    db = RunsDB(db_path)
    rows = dict(db.db.execute("SELECT request_id, status FROM trajectories").fetchall())
    assert rows == {"ok": "completed", "fail": "failed", "slow": "failed", "garbage": "max_steps"}
    assert sum("FAIL" in hit for hit in server.hits) == 2  # one retry
    garbage = next(t for t in db.trajectories("r") if t.request.id == "garbage")
    assert all(step.invalid_plan for step in garbage.steps)
    errors = dict(db.db.execute("SELECT request_id, error FROM trajectories").fetchall())
    assert "after 2 attempts: Error code: 500" in errors["fail"]
    assert "after 2 attempts: Request timed out" in errors["slow"]
    db.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for file in tmp_path.glob("runs.sqlite*"):
        assert b"sk-test-not-a-real-key" not in file.read_bytes()

"""A `gba sim trajectories` process killed with SIGKILL mid-run, then run again: no
finished trajectory lost or duplicated, and no LLM call made twice."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gba_core.schema import Request
from gba_core.testing import chat_completion
from gba_sim.db import RunsDB

pytestmark = pytest.mark.integration
N = 8


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = json.loads(body)
        time.sleep(0.4)  # slow enough to kill the client mid-run
        if "response_format" in request:
            content = json.dumps(
                {
                    "user_request": "r",
                    "context_information_summary": "c",
                    "missing_information_or_action": "nothing",
                    "thoughts": "t",
                    "task": "Answer",
                    "selected_tool": "final_answer",
                }
            )
        else:
            content = "The answer."
        data = json.dumps(chat_completion(content, prompt_tokens=10, completion_tokens=5)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return  # the client was killed waiting for this answer
        self.server.answered.append((body, time.monotonic()))


def saved(db_path):
    con = sqlite3.connect(db_path, timeout=30)
    rows = con.execute("SELECT request_id FROM trajectories").fetchall()
    con.close()
    return [r[0] for r in rows]


def test_a_killed_run_resumes_without_loss_duplicates_or_repeated_calls(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.answered = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    db_path = tmp_path / "runs.sqlite"
    db = RunsDB(db_path)
    db.add_requests([Request(id=f"q{i}", text=f"Question number {i}?") for i in range(N)])
    db.close()
    spec = f"openai:m?base_url=http://127.0.0.1:{server.server_address[1]}/v1"
    command = [
        str(Path(sys.executable).with_name("gba")),
        "sim",
        "trajectories",
        "--db",
        str(db_path),
        "--llm",
        spec,
        "--max-steps",
        "2",
        "--run",
        "r",
    ]
    env = {**os.environ, "OPENAI_API_KEY": "not-needed"}
    try:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path
        )
        deadline = time.monotonic() + 120
        while len(saved(db_path)) < 3:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)  # into the next trajectory's calls
        process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        process.wait()
        # Answered well before the kill: in the cache, so never asked again. (The call in
        # flight at the kill, or answered in its last instant, may be asked again.)
        settled = {body for body, at in server.answered if at < killed_at - 0.2}
        before = saved(db_path)
        assert 3 <= len(before) < N
        again = subprocess.run(
            command, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=300
        )
        assert again.returncode == 0, again.stderr[-2000:]
        after = saved(db_path)
        assert sorted(after) == [f"q{i}" for i in range(N)]  # none lost, none twice
        asked = Counter(body for body, _ in server.answered)
        repeated = [body for body in settled if asked[body] > 1]
        assert settled and not repeated, f"{len(repeated)} cached LLM calls were made again"
    finally:
        server.shutdown()
        server.server_close()

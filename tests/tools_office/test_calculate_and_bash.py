"""calculate_number and use_bash: correct work, and hostile input contained."""

import json
import os
import socket
import subprocess

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.llm.scripted import ScriptedLLM
from gba_core.schema import ScratchpadEntry
from gba_core.testing import plan_answer
from gba_core.tools import ToolContext, ToolOptions
from gba_tools_office.bash import UseBash
from gba_tools_office.calculate import CalculateNumber


def calculate(code, scratchpad=()):
    llm = ScriptedLLM([{"code": code}])
    return CalculateNumber().run("r", "compute it", list(scratchpad), ToolContext(llm=llm))


def bash(command, **ctx):
    llm = ScriptedLLM([{"command": command}])
    options = ToolOptions(allow_bash=ctx.pop("allow", True))
    return UseBash().run("r", "do it", [], ToolContext(llm=llm, options=options, **ctx))


def test_dates_and_averages():
    out = calculate("d = datetime.date(2026, 2, 8) - datetime.date(2025, 11, 23)\nresult = d.days")
    assert out == "Result: 77"
    out = calculate("result = statistics.mean([12.5, 14.0, 9.5])")
    assert out == "Result: 12.0"
    assert calculate("result = [17 * 23, 2 ** 10]") == "Result: [391, 1024]"


def test_results_carry_no_floating_point_noise():
    assert calculate("result = 138.5 - 146.6") == "Result: -8.1"
    assert calculate("result = [0.1 + 0.2, 1 / 3]") == "Result: [0.3, 0.333333333333]"
    assert calculate("result = 21 * 24 * 3600") == "Result: 1814400"
    assert calculate("result = 2 ** 70") == f"Result: {2**70}"  # ints stay exact


def test_the_code_sees_the_scratchpad_through_the_prompt():
    llm = ScriptedLLM([{"code": "result = 522000 * 2"}])
    pad = [ScratchpadEntry(task="Population of Lyon", tool="search", result="522,000")]
    CalculateNumber().run("r", "Double it", pad, ToolContext(llm=llm))
    assert "522,000" in llm.calls[0].prompt and "result" in llm.calls[0].prompt


def test_a_result_that_is_not_a_number_is_an_error():
    assert "did not set `result`" in calculate("result = 'many'")
    assert "did not set `result`" in calculate("x = 1")
    assert "ZeroDivisionError" in calculate("result = 1 / 0")


def test_a_result_file_the_program_broke_is_an_error_not_a_crash():
    code = "open('result.json', 'w').write('{not json')\nimport os\nos._exit(0)"
    assert calculate(code) == "Error: the calculation left an unreadable result"


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(3)
    yield server
    server.close()


def test_hostile_calculations_are_contained(tmp_path, monkeypatch, listener):
    outside = tmp_path / "w"
    outside.mkdir()
    outside.chmod(0o777)
    monkeypatch.setenv("GBA_TEST_SECRET", "hunter2")
    port = listener.getsockname()[1]
    cases = {
        "while True:\n    pass": "Error: the calculation failed",
        "import os\nwhile True:\n    os.fork()": "Error: the calculation failed",
        "x = bytearray(8 * 1024**3)\nresult = 1": "MemoryError",
        f"open({str(outside / 'x')!r}, 'w').write('1')\nresult = 1": "Error",
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), 2)\nresult = 1": "Error",
        "print('y' * 10**8)\nresult = 5": "Result: 5",
    }
    for code, expected in cases.items():
        assert expected in calculate(code), code
    assert not (outside / "x").exists()
    with pytest.raises(TimeoutError):
        listener.accept()
    secret = calculate("import os\nresult = len(os.environ.get('GBA_TEST_SECRET', ''))")
    assert secret == "Result: 0"
    assert subprocess.run(["true"]).returncode == 0  # the host still starts processes


def test_bash_runs_when_allowed_and_truncates():
    out = bash("echo hello; echo oops >&2")
    assert out.startswith("$ echo hello") and "hello" in out and "stderr: oops" in out
    out = bash("yes | head -c 50000000")
    assert "(output truncated)" in out and len(out) < 40000


def test_bash_refuses_without_permission_when_not_interactive():
    out = bash("rm -rf ~", allow=False, interactive=False)
    assert out.startswith("Refused") and "--allow-bash" in out


def test_hostile_commands_are_contained(tmp_path, monkeypatch):
    monkeypatch.setenv("GBA_TEST_SECRET", "hunter2")
    outside = tmp_path / "w"
    outside.mkdir()
    outside.chmod(0o777)
    assert "Error" in bash("while :; do :; done")
    bash(":(){ :|:& };: ; sleep 2")
    assert "Error" in bash(f"echo x > {outside}/x")
    assert not (outside / "x").exists()
    assert "hunter2" not in bash(f"env; cat /proc/{os.getpid()}/environ")
    assert subprocess.run(["true"]).returncode == 0


@pytest.mark.parametrize(("answer", "ran"), [("y", True), ("n", False)])
def test_bash_asks_on_a_terminal(scripted_backend, answer, ran):
    scripted_backend.add(
        plan_answer("use_bash", "Say hi"),
        {"command": "echo hi-from-sandbox"},
        plan_answer("final_answer"),
        "done",
    )
    result = CliRunner().invoke(
        cli,
        ["run", "hi", "--llm", "scripted:test", "--interactive", "--json"],
        input=f"{answer}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Run this command in the sandbox?" in result.stderr
    observation = json.loads(result.stdout)["steps"][0]["observation"]
    assert observation.startswith("Refused") != ran
    assert ("hi-from-sandbox" in observation.replace("$ echo hi-from-sandbox", "")) == ran


def test_use_bash_is_not_offered_where_nobody_can_confirm(monkeypatch):
    monkeypatch.delenv("GBA_ALLOW_BASH", raising=False)
    tool = UseBash()
    assert "--allow-bash" in tool.unavailable(interactive=False, options=ToolOptions())
    assert tool.unavailable(interactive=True, options=ToolOptions()) is None
    assert tool.unavailable(interactive=False, options=ToolOptions(allow_bash=True)) is None
    shown = CliRunner().invoke(cli, ["tools", "--json"])
    rows = {row["name"]: row for row in json.loads(shown.stdout)}
    assert "--allow-bash" in rows["use_bash"]["unavailable"]
    assert rows["calculate_number"]["unavailable"] is None

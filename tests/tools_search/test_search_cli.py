"""The gba search commands."""

import json

from click.testing import CliRunner

from gba_core.cli import cli


def run(*args, **kwargs):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)


def test_build_info_and_query_an_index(tmp_path):
    source = tmp_path / "notes"
    source.mkdir()
    (source / "otters.md").write_text(
        "# Sea otter\n\nSea otters hold hands while sleeping so they do not drift apart. "
        "A group of resting otters is called a raft.\n\nSea otters use stones as tools "
        "to open shellfish."
    )
    (source / "owls.md").write_text(
        "# Barn owl\n\nThe barn owl hunts at night and finds mice by sound alone."
    )
    out = tmp_path / "idx"
    result = run("search", "index", "build", str(source), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"{out}: 2 documents, 2 passages" in result.output
    info = json.loads(run("search", "index", "info", str(out), "--json").output)
    assert info["documents"] == 2 and info["dim"] == 384 and info["binary_bytes"] == 2 * 48
    result = run(
        "search",
        "query",
        "What do otters hold while they sleep?",
        "--index",
        str(out),
        "--passages-only",
        "--json",
    )
    found = json.loads(result.output)
    assert found["answer"] is None
    assert found["documents"][0]["title"] == "Sea otter"
    assert "hold hands" in found["documents"][0]["passages"][0]
    again = run("search", "index", "build", str(source), "--out", str(out))
    assert again.exit_code == 2 and "use --overwrite" in again.output


def test_query_answers_with_the_tool_llm(demo_index, scripted_backend):
    scripted_backend.default = lambda call: (
        {"note": "n"} if "note" in call.schema.model_fields else {"answer": "Steven Spielberg."}
    )
    result = run(
        "search",
        "query",
        "Who directed Jaws?",
        "--index",
        str(demo_index),
        "--answer",
        "generate",
        "--llm",
        "scripted:test",
    )
    assert result.exit_code == 0, result.output
    assert "Jaws (film)" in result.output and "Answer: Steven Spielberg." in result.output
    extracted = run("search", "query", "Who directed Jaws?", "--index", str(demo_index))
    assert extracted.exit_code == 0, extracted.output
    assert "Answer: Jaws is a 1975 American thriller film directed by Steven" in extracted.output


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nalpha")
    (tmp_path / "file").write_text("not a folder")
    cases = [
        (["search", "query", "   "], "the query is empty"),
        (["search", "query", "x", "--index", str(tmp_path)], "gba search index build"),
        (
            ["search", "index", "build", str(tmp_path / "x.csv"), "--out", str(tmp_path)],
            "source not found",
        ),
        (["search", "internet", "weather"], "no search service configured"),
        (
            ["search", "index", "build", str(tmp_path), "--out", str(tmp_path / "file")],
            "cannot write an index",
        ),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_help_explains_the_commands():
    result = run("search", "index", "build", "--help")
    assert "MediaWiki XML dump" in result.output and "resumes" in result.output
    assert "Wikipedia" in run("search", "--help").output

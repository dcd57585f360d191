"""gba.toml: where each setting comes from, and typos that would otherwise be ignored."""

import pytest

from gba_core import config


@pytest.fixture
def toml(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GBA_CONFIG", raising=False)
    monkeypatch.setattr(config, "_warned", set())

    def write(text: str) -> None:
        (tmp_path / "gba.toml").write_text(text)

    return write


def test_a_misspelt_llm_role_is_named_with_the_closest_one(toml, capsys, monkeypatch):
    for name in ("GBA_LLM", "GBA_PLANNER_LLM"):
        monkeypatch.delenv(name, raising=False)
    toml('[llm]\nplaner = "openai:x"\n')
    assert config.llm_spec_for("planner") == (config.DEFAULT_LLM, "default")
    config.llm_spec_for("planner")
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # once, however often the table is read
    assert "[llm] has no setting 'planer'; did you mean 'planner'?" in err


def test_an_unknown_plugin_setting_is_named_with_what_is_known(toml, capsys, monkeypatch):
    monkeypatch.delenv("GBA_COLOUR", raising=False)
    toml('[demo]\ncolour = "red"\nzzz = 1\n')
    assert config.plugin_setting("demo", "colour", {"colour": "blue", "size": 3}) == "red"
    err = capsys.readouterr().err
    assert err.count("warning:") == 1  # colour is known
    assert "[demo] has no setting 'zzz'; known: colour, size" in err

"""gba.toml: where each setting comes from, and typos that would otherwise be ignored."""

import dataclasses
from pathlib import Path

import pytest

from gba_core import config
from gba_core.errors import ConfigError, SettingError


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


@dataclasses.dataclass(frozen=True)
class Inner:
    depth: int = 2
    network: bool = dataclasses.field(default=False, metadata={"setting": False})

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise SettingError("depth", "must be at least 1")


@dataclasses.dataclass(frozen=True)
class Demo:
    colour: str = "blue"
    size: int = 3
    home: Path | None = None
    loud: bool = False
    inner: Inner = dataclasses.field(default_factory=Inner)


def test_an_unknown_plugin_setting_is_named_with_what_is_known(toml, capsys, monkeypatch):
    monkeypatch.delenv("GBA_COLOUR", raising=False)
    toml('[demo]\ncolour = "red"\nzzz = 1\n')
    assert config.load_settings("demo", Demo).colour == "red"
    err = capsys.readouterr().err
    assert err.count("warning:") == 1  # colour is known
    assert "[demo] has no setting 'zzz'; known: colour, size, home, loud, inner_depth" in err


def test_settings_come_typed_from_the_environment_then_the_file_then_the_defaults(
    toml, monkeypatch
):
    toml("[demo]\nsize = 5\ninner_depth = 4\nloud = true\n")
    monkeypatch.setenv("GBA_SIZE", "7")
    monkeypatch.setenv("GBA_HOME", "~/notes")
    monkeypatch.setenv("GBA_INNER_NETWORK", "1")  # no setting: decided by the code
    got = config.load_settings("demo", Demo)
    assert got == Demo(
        colour="blue", size=7, home=Path.home() / "notes", loud=True, inner=Inner(depth=4)
    )
    monkeypatch.setenv("GBA_HOME", "")
    assert config.load_settings("demo", Demo).home is None


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GBA_SIZE", "big", "setting size: 'big' is not a number"),
        ("GBA_INNER_DEPTH", "0", "setting inner_depth: must be at least 1"),
    ],
)
def test_a_bad_setting_is_one_error_naming_it(toml, monkeypatch, variable, value, message):
    toml("")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        config.load_settings("demo", Demo)
    assert str(error.value) == message

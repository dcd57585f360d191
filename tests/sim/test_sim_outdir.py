"""Datasets are written whole or not at all: a non-empty --out needs --overwrite, and a
failed or killed package leaves the old dataset as it was."""

import pytest
from click.testing import CliRunner

from gba_core.cli import cli
from gba_core.errors import ConfigError
from gba_sim.outdir import replacing


def old_dataset(out):
    out.mkdir()
    (out / "train.prompt_completion.jsonl").write_text("old\n")
    (out / "hf").mkdir()
    (out / "hf" / "data.arrow").write_text("old arrow")
    return out


def test_a_non_empty_out_is_refused_without_overwrite(tmp_path):
    out = old_dataset(tmp_path / "dataset")
    with (
        pytest.raises(ConfigError, match="is not empty; pass --overwrite"),
        replacing(out, overwrite=False),
    ):
        pass
    (tmp_path / "file").write_text("x")
    with (
        pytest.raises(ConfigError, match="is a file"),
        replacing(tmp_path / "file", overwrite=True),
    ):
        pass


def test_overwrite_replaces_the_folder_whole_and_a_failure_keeps_the_old_one(tmp_path):
    out = old_dataset(tmp_path / "dataset")
    with pytest.raises(RuntimeError), replacing(out, overwrite=True) as work:
        (work / "train.prompt_completion.jsonl").write_text("half")
        raise RuntimeError("killed halfway")
    assert (out / "train.prompt_completion.jsonl").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]  # no leftovers
    with replacing(out, overwrite=True) as work:
        (work / "train.prompt_completion.jsonl").write_text("new\n")
    assert sorted(p.name for p in out.iterdir()) == ["train.prompt_completion.jsonl"]
    assert (out / "train.prompt_completion.jsonl").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_gba_sim_package_refuses_a_used_out_in_one_line(tmp_path):
    db = str(tmp_path / "runs.sqlite")
    assert CliRunner().invoke(cli, ["sim", "starter", "--db", db]).exit_code == 0
    out = old_dataset(tmp_path / "dataset")
    args = ["sim", "package", "--db", db, "--run", "starter", "--judge", "reference"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 2 and "pass --overwrite to replace it" in result.output
    result = CliRunner().invoke(cli, [*args, "--out", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert not (out / "hf" / "data.arrow").exists()
    assert (out / "report.json").exists() and (out / "train.prompt_completion.jsonl").exists()

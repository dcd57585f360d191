"""Options shared by the ``gba sim`` commands."""

from __future__ import annotations

from pathlib import Path

import click

from .db import DEFAULT_PATH

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_PATH,
    show_default=True,
    envvar="GBA_SIM_DB",
    help="The runs database (SQLite); GBA_SIM_DB also sets it.",
)

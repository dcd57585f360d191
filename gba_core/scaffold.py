"""``gba plugin new``: a plugin distribution that works and passes its tests as generated.

The files are jinja2 templates in ``templates/scaffold/``. They are rendered with
``<@ @>`` and ``<% %>`` delimiters because the generated prompt templates are jinja2
themselves and keep their ``{{ }}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gba_core import __version__
from gba_core.errors import ConfigError
from gba_core.tools import TOOL_NAME

PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
STYLES = ("class", "function")


@dataclass(frozen=True)
class Scaffold:
    name: str  # the entry point's name, shown by `gba plugins`
    tool: str
    style: str

    @property
    def distribution(self) -> str:
        return self.name if self.name.startswith("gba-") else f"gba-{self.name}"

    @property
    def package(self) -> str:
        return self.distribution.replace("-", "_")

    @property
    def cls(self) -> str:
        return "".join(part.title() for part in self.tool.split("_"))

    def files(self) -> dict[str, str]:
        """Relative path -> scaffold template."""
        pkg = self.package
        files = {
            "pyproject.toml": "pyproject.toml.j2",
            "README.md": "README.md.j2",
            f"{pkg}/__init__.py": f"module_{self.style}.py.j2",
            "tests/test_plugin.py": "test_plugin.py.j2",
        }
        if self.style == "class":
            files[f"{pkg}/templates/{self.tool}_arguments.j2"] = "arguments.j2.j2"
            files[f"{pkg}/templates/{self.tool}_simulated.j2"] = "simulated.j2.j2"
        return files


def scaffold_for(name: str, tool: str | None = None, style: str = "class") -> Scaffold:
    """Check the names and return what ``create_plugin`` writes."""
    if not PLUGIN_NAME.match(name):
        raise ConfigError(
            f"plugin name {name!r}: use lower-case letters, digits and single hyphens "
            "(for example notes or my-notes)"
        )
    tool = tool or name.removeprefix("gba-").replace("-", "_")
    if not TOOL_NAME.match(tool):
        raise ConfigError(f"tool name {tool!r} must be lower_snake_case (letters, digits, _)")
    if style not in STYLES:
        raise ConfigError(f"style {style!r}: choose one of {', '.join(STYLES)}")
    return Scaffold(name=name, tool=tool, style=style)


def create_plugin(scaffold: Scaffold, parent: Path) -> Path:
    """Write the plugin's folder under ``parent`` and return it; never overwrites."""
    import jinja2

    folder = parent / scaffold.distribution
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} exists and is not empty")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gba_core", "templates/scaffold"),
        variable_start_string="<@",
        variable_end_string="@>",
        block_start_string="<%",
        block_end_string="%>",
        comment_start_string="<#",
        comment_end_string="#>",
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    # A development version of gba-core has no release to point at.
    gba_version = __version__ if __version__ != "0.0.0" else "0.1.0"
    variables = {
        "name": scaffold.name,
        "tool": scaffold.tool,
        "style": scaffold.style,
        "distribution": scaffold.distribution,
        "package": scaffold.package,
        "cls": scaffold.cls,
        "gba_version": gba_version,
        # What the generated tests import and build, per style.
        "tools_imports": "ToolContext" + (", simulate" if scaffold.style == "function" else ""),
        "own_imports": f"Simulated{scaffold.cls}, {scaffold.cls}"
        if scaffold.style == "class"
        else "TOOL",
        "real_expr": f"{scaffold.cls}()" if scaffold.style == "class" else "TOOL",
        "twin_expr": f"Simulated{scaffold.cls}()"
        if scaffold.style == "class"
        else "simulate(TOOL)",
    }
    for relative, template in scaffold.files().items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(variables))
    return folder

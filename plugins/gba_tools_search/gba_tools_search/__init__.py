"""gba-tools-search: search_wikipedia and search_internet, real and simulated, and the
``gba search`` commands.

search_wikipedia searches a local passage index (binary + int8 embeddings, SQLite
passages), by default one built on first use from the demo corpus shipped here;
search_internet asks a SearXNG instance and reads the top pages. Both end with the tool
LLM summarising what was found. The twins let the simulator LLM play the search engine,
with seeded "nothing found" and "partial answer" outcomes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gba_core import hookimpl
from gba_core.tools import SimulatedTool, Tool

from .internet import DESCRIPTION as INTERNET_DESCRIPTION
from .internet import SearchInternet
from .settings import settings as search_settings
from .wikipedia import DESCRIPTION as WIKIPEDIA_DESCRIPTION
from .wikipedia import SearchWikipedia


class SimulatedSearch(SimulatedTool):
    """The simulator pretends to be the search engine. With seeded probabilities
    (``simulated_no_answer_rate`` and ``simulated_partial_answer_rate``, 0.1 each by
    default) it finds nothing or answers only part of the task."""

    template = "simulated_search.j2"
    template_package = __name__

    def __init__(self, name: str, description: str, engine: str) -> None:
        super().__init__(name, description)
        self.engine = engine

    def outcome_rates(self) -> dict[str, float]:
        config = search_settings()
        return {
            "no_answer": config.simulated_no_answer_rate,
            "partial_answer": config.simulated_partial_answer_rate,
        }

    def template_variables(self) -> dict[str, Any]:
        return {"engine": self.engine}


def simulated_tools() -> list[SimulatedSearch]:
    return [
        SimulatedSearch("search_wikipedia", WIKIPEDIA_DESCRIPTION, "Wikipedia"),
        SimulatedSearch("search_internet", INTERNET_DESCRIPTION, "an internet search engine"),
    ]


@hookimpl
def register_tools(register: Callable[[Tool], None]) -> None:
    register(SearchWikipedia())
    register(SearchInternet())


@hookimpl
def register_simulated_tools(register: Callable[[SimulatedTool], None]) -> None:
    for twin in simulated_tools():
        register(twin)


@hookimpl
def register_commands(cli: Any) -> None:
    from gba_core.cli import LazyCommand

    # Loaded when it runs: `gba --help` lists it without importing .cli.
    help = "Search tools: build a local Wikipedia-style index, query it, search the internet."
    cli.add_command(LazyCommand("search", "gba_tools_search.cli:search", help))

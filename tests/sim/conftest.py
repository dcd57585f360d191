import pytest

from gba_core import hookimpl
from gba_core.tools import SimulatedTool, Tool


class LookupFact(Tool):
    name = "lookup_fact"
    description = "Look up a fact."

    def run(self, request, task, scratchpad, ctx):
        return "a fact"


class LookupPlugin:
    @hookimpl
    def register_tools(self, register):
        register(LookupFact())

    @hookimpl
    def register_simulated_tools(self, register):
        register(SimulatedTool(LookupFact.name, LookupFact.description))


@pytest.fixture
def lookup_plugin(register_plugin):
    """A temporary plugin with one tool, lookup_fact, and its twin."""
    register_plugin(LookupPlugin(), "lookup-plugin")

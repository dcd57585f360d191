"""gba-tools-office: five office tools and their simulated twins.

Real tools: calculate_number and use_bash run model-written code in gba's sandbox;
create_event and send_email are function tools with real backends (iCalendar file or
CalDAV; Maildir outbox or SMTP); ask_user asks on the terminal or follows a policy.
Twins answer through the simulator LLM; create_event's and send_email's are derived from
the function tools by ``gba_core.tools.simulate``.
"""

from __future__ import annotations

from collections.abc import Callable

from gba_core import hookimpl
from gba_core.tools import SimulatedTool, Tool, simulate

from .ask import DESCRIPTION as ASK_DESCRIPTION
from .ask import AskUser
from .bash import DESCRIPTION as BASH_DESCRIPTION
from .bash import UseBash
from .calculate import DESCRIPTION as CALCULATE_DESCRIPTION
from .calculate import CalculateNumber
from .calendar import create_event_tool
from .mail import send_email_tool
from .settings import check_settings


class SimulatedCalculateNumber(SimulatedTool):
    name = "calculate_number"
    description = CALCULATE_DESCRIPTION
    template = "simulated_calculate.j2"
    template_package = __name__


class SimulatedAskUser(SimulatedTool):
    name = "ask_user"
    description = ASK_DESCRIPTION
    template = "simulated_ask.j2"
    template_package = __name__


class SimulatedUseBash(SimulatedTool):
    name = "use_bash"
    description = BASH_DESCRIPTION


@hookimpl
def register_tools(register: Callable[[Tool], None]) -> None:
    check_settings()  # a bad [office] value stops gba here, before any run
    for tool in (AskUser(), CalculateNumber(), create_event_tool, send_email_tool, UseBash()):
        register(tool)


@hookimpl
def register_simulated_tools(register: Callable[[SimulatedTool], None]) -> None:
    for twin in (
        SimulatedAskUser(),
        SimulatedCalculateNumber(),
        simulate(create_event_tool),
        simulate(send_email_tool),
        SimulatedUseBash(),
    ):
        register(twin)

"""Secrets gba was given (API keys, passwords), kept out of what it prints and stores.

A server may echo a key back in its error ("Incorrect API key provided: sk-..."), and a
library may put a password in an exception. Whoever reads a secret remembers it here;
errors pass through ``redact`` before they are stored in a trajectory, the runs database
or a message.
"""

from __future__ import annotations

# Shorter values would redact ordinary words: no real key or password is this short.
MIN_LENGTH = 6
MASK = "***"

_secrets: set[str] = set()


def remember(value: str | None) -> None:
    """Keep ``value`` out of every message from now on."""
    if value and len(value) >= MIN_LENGTH:
        _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every remembered secret masked, longest first (a key that contains
    another is masked whole)."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text

"""Secrets gba was given stay out of the messages it writes."""

from gba_core import secrets


def test_remembered_secrets_are_masked_longest_first(monkeypatch):
    monkeypatch.setattr(secrets, "_secrets", set())
    secrets.remember("hunter2-long")
    secrets.remember("hunter2-long-and-longer")
    secrets.remember("abc")  # too short to tell from ordinary text
    secrets.remember(None)
    text = "keys hunter2-long-and-longer, hunter2-long and abc"
    assert secrets.redact(text) == "keys ***, *** and abc"

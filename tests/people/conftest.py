"""Fixtures of the people's-tickets tests, shared with tests/chatops."""

from tests.chatops.support import emulators

__all__ = ["emulators"]

"""Fixtures of the chat-ops tests (shared with tests/notify through tests/chatops/support.py)."""

from tests.chatops.support import emulators

__all__ = ["emulators"]

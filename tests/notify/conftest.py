"""Fixtures of the notification tests, shared with tests/chatops."""

from tests.chatops.support import emulators, tracker_emulators

__all__ = ["emulators", "tracker_emulators"]

"""Loopback stand-ins for real trackers, used by the sandbox (`make run`) and the tests."""

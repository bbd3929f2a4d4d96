"""Tracker connectors: each one speaks to one kind of ticketing system."""

"""Data-quality ticketing gateway: anomaly webhooks in, tracker tickets out."""

from gateway.core.protocols import remember_protocol_members

remember_protocol_members()

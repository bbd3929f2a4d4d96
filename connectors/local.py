"""`local`: a mirror-only target; the gateway's own ticket is the 'remote' one."""

from __future__ import annotations

from typing import Any

import msgspec

from connectors.base import AssignRequest, CommentRequest, CreateRequest, RemoteTicket, StatusRequest
from gateway.core.retry_config import RetryConfig


class LocalTarget(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: str = "local"
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)


class LocalConnector:
    """Records nothing outside the mirror, so flows work with no tracker configured."""

    def __init__(self, config: LocalTarget) -> None:
        self.config = config

    def create(self, request: CreateRequest) -> RemoteTicket:
        return RemoteTicket(
            external_id=request.number, external_key=request.number, remote_status=request.fields.status
        )

    def preview(self, request: CreateRequest) -> dict[str, Any]:
        fields: dict[str, Any] = msgspec.to_builtins(request.fields)
        return fields

    def set_status(self, request: StatusRequest) -> RemoteTicket:
        return msgspec.structs.replace(request.link, remote_status=request.status)

    def comment(self, request: CommentRequest) -> None:
        return None

    def assign(self, request: AssignRequest) -> RemoteTicket:
        return request.link

    def close(self) -> None:
        return None


def build(config: LocalTarget) -> LocalConnector:
    return LocalConnector(config)

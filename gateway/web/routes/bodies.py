"""OpenAPI request bodies for routes that read the raw body themselves (signatures need the bytes),
so the schema shows what to send and schema-driven clients and fuzzers reach the bodies."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema


def _schema(shape: type[msgspec.Struct] | None) -> Schema:
    if shape is None:
        return Schema(type=OpenAPIType.OBJECT, description="the sending tool's own JSON")
    fields = msgspec.structs.fields(shape)
    return Schema(
        type=OpenAPIType.OBJECT,
        properties={f.encode_name: Schema(type=OpenAPIType.STRING) for f in fields},
        required=[f.encode_name for f in fields if f.required],
    )


def documented_body(shape: type[msgspec.Struct] | None = None, media: str = "application/json") -> type[Operation]:
    """An Operation class whose request body is `shape` (None: any JSON object) in `media`."""
    content = {
        media: OpenAPIMediaType(
            schema=_schema(shape) if media == "application/json" else Schema(type=OpenAPIType.STRING)
        )
    }

    @dataclass
    class WithBody(Operation):
        def __post_init__(self) -> None:
            if self.request_body is None:
                self.request_body = RequestBody(content=content, required=True)

    return WithBody

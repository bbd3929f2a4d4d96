"""The ceiling: a bare Litestar + msgspec POST endpoint, served like the gateway (uvicorn[standard])."""

from __future__ import annotations

import sys

import msgspec
import uvicorn
from litestar import Litestar, Request, post


class Accepted(msgspec.Struct):
    accepted: bool


@post("/v1/webhooks/{source:str}", status_code=202)
async def receive(source: str, request: Request) -> Accepted:  # type: ignore[type-arg]
    msgspec.json.decode(await request.body())
    return Accepted(accepted=True)


if __name__ == "__main__":
    uvicorn.run(Litestar([receive]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)

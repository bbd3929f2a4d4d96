"""A small keep-alive HTTP/1.1 load generator on asyncio streams (faster than an HTTP client library)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def add(self, other: Result) -> None:
        """`other`'s requests counted in this result too (a server's turns, summed)."""
        self.sent, self.seconds = self.sent + other.sent, self.seconds + other.seconds
        self.latencies += other.latencies
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else 0.0


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
    if length:
        await reader.readexactly(length)
    return status


async def _connection(port: int, requests: list[bytes], result: Result) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for raw in requests:
            started = time.perf_counter()
            writer.write(raw)
            status = await _read_response(reader)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.sent += 1
    finally:
        writer.close()


def request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def run(port: int, requests: list[bytes], connections: int) -> Result:
    """Send `requests`, spread over `connections` keep-alive connections; every one is answered."""
    result = Result()
    shares = [requests[i::connections] for i in range(connections)]

    async def main() -> None:
        started = time.perf_counter()
        await asyncio.gather(*(_connection(port, share, result) for share in shares if share))
        result.seconds = time.perf_counter() - started

    asyncio.run(main())
    return result

"""`gateway serve`: embedded Redis (when REDIS_URL is unset), the sandbox, workers, the web app."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import uvicorn

from gateway.core.settings import Settings
from gateway.dispatch.queue import Dispatcher
from gateway.dispatch.sweeper import Sweeper
from gateway.record.runtime import Runtime
from gateway.record.store import describe
from gateway.rules.loader import MappingErrors
from gateway.rules.strength import weak_secrets
from gateway.run.embedded_redis import EmbeddedRedis
from gateway.run.heap import INGRESS_YOUNG_COLLECTION_AT, freeze_startup_heap
from gateway.run.http import bounded_protocol
from gateway.run.logs import redact_secrets_of
from gateway.run.sandbox import VARIABLES, Tracker, keep_used, mark_serving, start_sandbox
from gateway.run.supervisor import DEFAULT_WORKERS, Supervisor, child_env
from gateway.web.app import create_app

log = logging.getLogger("gateway.run.serve")


class _Server(uvicorn.Server):
    """Stops worker supervision the moment shutdown begins, before uvicorn drains connections;
    says where everything is once it listens."""

    def __init__(self, config: uvicorn.Config, supervisor: Supervisor, trackers: list[Tracker]) -> None:
        super().__init__(config)
        self.supervisor = supervisor
        self.trackers = trackers

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit or not self.servers:
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        base = f"http://{host}:{port}"
        lines = [f"gateway ready on {base}", f"  console    {base}/ui", f"  API docs   {base}/schema"]
        lines += [f"  {tracker.describe()}" for tracker in self.trackers]
        lines.append("  CLI        .venv/bin/gateway tickets | executions | check  (or: make tickets)")
        print("\n".join(lines), flush=True)

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.supervisor.stop_supervising()
        super().handle_exit(sig, frame)


def _exposure_refused(settings: Settings, host: str, insecure: bool) -> bool:
    """Without an API token the gateway's reads are open: only loopback, unless the operator insists."""
    if settings.api_token:
        return False
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        log.warning("GATEWAY_API_TOKEN is not set: the API is open to anyone who can reach %s", host)
        return False
    if insecure:
        log.warning("GATEWAY_API_TOKEN is not set and --insecure was given: the API is open on %s", host)
        return False
    print(
        f"error: refusing to listen on {host} without GATEWAY_API_TOKEN (anyone could read and change tickets); "
        "set GATEWAY_API_TOKEN, listen on 127.0.0.1, or pass --insecure",
        file=sys.stderr,
    )
    return True


def _private_files(settings: Settings) -> None:
    """var/ 0700 and the database files 0600, also when they were created before (umask 077 covers new ones)."""
    sqlite = settings.database_url.startswith("sqlite:///")
    for directory in (Path(settings.var_dir), *([settings.database_path.parent] if sqlite else [])):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    Path(settings.var_dir).chmod(0o700)
    for suffix in ("", "-wal", "-shm") if sqlite else ():
        existing = Path(f"{settings.database_path}{suffix}")
        if existing.exists():
            existing.chmod(0o600)


def _weak_secrets_refused(runtime: Runtime, *, sandboxed: bool) -> bool:
    """Weak secrets stop the gateway; the sandbox may keep the example values, with a warning."""
    refused = False
    for weak in weak_secrets(runtime.mappings, runtime.settings):
        if weak.example and sandboxed:
            log.warning("%s %s (allowed in the sandbox only)", weak.where, weak.problem)
        else:
            print(f"error: {weak.where} {weak.problem}", file=sys.stderr)
            refused = True
    if refused:
        print("the gateway does not start with weak secrets: anyone could guess them", file=sys.stderr)
    return refused


def _target_urls(runtime: Runtime) -> list[str]:
    return [str(getattr(target.config, "url", "")) for target in runtime.mappings.targets.values()]


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int = DEFAULT_WORKERS,
    sandbox: bool = True,
    sandbox_ports: dict[str, int] | None = None,
    insecure: bool = False,
) -> int:
    if _exposure_refused(settings, host, insecure):
        return 2
    os.umask(0o077)  # everything this process creates (var/, the database, its WAL) is the owner's only
    var_dir = Path(settings.var_dir).resolve()
    sandbox_env: dict[str, str] = {}
    trackers = start_sandbox(sandbox_env, var_dir, sandbox_ports) if sandbox else []
    yours = {name: os.environ[name] for name in sandbox_env if name in os.environ}
    os.environ.update(sandbox_env)
    settings = msgspec.structs.replace(settings, mappings=settings.mappings.resolve())
    try:
        runtime = Runtime.load(settings)
        used = keep_used(trackers, _target_urls(runtime))
        if len(used) < len(trackers):
            # No target points at that emulator: its user and token were not the sandbox's to set (a tracker of
            # your own named in the mappings, JIRA_URL unset, gets your JIRA_USER / JIRA_API_TOKEN).
            for tracker in trackers:
                if tracker not in used:
                    for name in VARIABLES[tracker.kind]:
                        os.environ.pop(name, None)
                        sandbox_env.pop(name, None)  # nor the workers'
                        if name in yours:
                            os.environ[name] = yours[name]
            runtime = Runtime.load(settings)
        trackers = used
    except MappingErrors as exc:
        for tracker in trackers:
            tracker.stop()
        for error in exc.errors:
            print(f"error: {error}", file=sys.stderr)
        print("the gateway does not start with broken mappings (gateway check shows them)", file=sys.stderr)
        return 2
    redact_secrets_of(runtime)
    if _weak_secrets_refused(runtime, sandboxed=bool(trackers)):
        for tracker in trackers:
            tracker.stop()
        return 2
    serving = mark_serving(var_dir)
    _private_files(settings)
    for name, source in runtime.mappings.sources.items():
        if source.allow_unauthenticated:
            log.warning("source %s has allow_unauthenticated: true: anyone can post events to it", name)
    redis_server = None
    if not settings.redis_url:
        redis_server = EmbeddedRedis(Path(settings.var_dir).resolve() / "redis").start()
        settings = msgspec.structs.replace(settings, redis_url=redis_server.url)
        runtime.settings = settings
    assert settings.redis_url is not None
    dispatcher = Dispatcher.for_runtime(runtime).start_relay()
    # A new (or emptied) Redis lost the jobs of executions marked enqueued: re-send them now, before
    # traffic, rather than let the first sweep mistake this run's jobs for lost ones.
    Sweeper(runtime, dispatcher).watch_redis(runtime.clock())
    env = child_env(
        {
            **sandbox_env,
            "REDIS_URL": settings.redis_url,
            "GATEWAY_DATABASE_URL": settings.database_url_absolute,
            "GATEWAY_MAPPINGS": str(settings.mappings),
        }
    )
    supervisor = Supervisor(env, count=workers).start()

    def shutdown() -> None:
        dispatcher.stop_relay()
        supervisor.stop()
        if redis_server is not None:
            redis_server.stop()
            log.info("embedded redis stopped")
        for tracker in trackers:
            tracker.stop()
        serving.unlink(missing_ok=True)

    def writer_process(end: socket.socket) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "gateway.run.ingest_writer", str(end.fileno())]
        # its own session, as the workers: the web process closes its link once its requests are answered
        return subprocess.Popen(command, env=env, pass_fds=[end.fileno()], start_new_session=True)

    app = create_app(
        runtime,
        dispatcher,
        writer_process=writer_process if settings.ingest_process else None,
        head_bounded=True,  # bounded_protocol below
    )
    app.on_shutdown.append(shutdown)
    log.info(
        "gateway on http://%s:%s (mappings %s, database %s)",
        host,
        port,
        settings.mappings,
        describe(settings.database_url),
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        http=bounded_protocol(settings.request_timeout_seconds),
        timeout_keep_alive=max(1, round(settings.keep_alive_seconds)),
    )
    freeze_startup_heap(INGRESS_YOUNG_COLLECTION_AT)
    try:
        _Server(config, supervisor, trackers).run()
    finally:
        if supervisor.processes and any(p.poll() is None for p in supervisor.processes):
            shutdown()
    return 0

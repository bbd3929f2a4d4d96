"""Migrations on PostgreSQL: from an empty database, once however many nodes start at once, by CLI."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from gateway.record.mirror import SCHEMA_VERSION, Mirror
from tests.faults.conftest import cli
from tests.postgres import PostgresServer


def test_ten_nodes_starting_at_once_migrate_an_empty_database_once(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()

    def start_node(_: int) -> int:
        mirror = Mirror(url)  # opening the mirror migrates, as every node's start-up does
        try:
            return int(mirror.connection().execute("SELECT max(version) FROM schema_version").fetchone()[0])
        finally:
            mirror.close()

    with ThreadPoolExecutor(10) as pool:
        assert set(pool.map(start_node, range(10))) == {SCHEMA_VERSION}
    mirror = Mirror(url)
    versions = [r[0] for r in mirror.connection().execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))  # each migration applied exactly once
    # the schema works: a ticket round-trips with its generated id
    with mirror.transaction() as tx:
        ticket_id = mirror.create_ticket(
            tx,
            correlation_key="qualytics:1",
            generation=1,
            state="New",
            source="qualytics",
            fields={"short_description": "x"},
            targets=["jira"],
            anomaly_id="1",
            now=1.5,
        ).id
    ticket = mirror.ticket(ticket_id)
    assert ticket is not None and ticket.created_at == 1.5 and ticket.targets == ["jira"]
    mirror.close()


def test_gateway_db_upgrade_names_the_database_without_its_password(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database().replace("gateway@", "gateway:not-a-real-secret@")
    result = cli({**os.environ, "GATEWAY_DATABASE_URL": url}, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert f"schema version {SCHEMA_VERSION}" in result.stdout
    assert "not-a-real-secret" not in result.stdout + result.stderr and "gateway:***@" in result.stdout

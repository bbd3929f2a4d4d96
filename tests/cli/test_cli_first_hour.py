"""The CLI as a new user meets it: options anywhere, clear one-line errors, quiet pipes."""

from __future__ import annotations

import fcntl
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import LOCAL_MAPPINGS, QUALYTICS_SECRET, MakeHarness, qualytics_delivery

ROOT = Path(__file__).parents[2]
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux


def gateway(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.run.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "QUALYTICS_SECRET": QUALYTICS_SECRET, **(env or {})},
    )


def mappings(directory: Path, broken: bool = False) -> Path:
    directory.mkdir(parents=True)
    for name, text in LOCAL_MAPPINGS.items():
        (directory / name).write_text(text.replace("kind: local", "kind: nowhere") if broken else text)
    return directory


def test_mappings_before_or_after_the_verb_is_the_directory_checked(tmp_path: Path) -> None:
    good, bad = mappings(tmp_path / "good"), mappings(tmp_path / "bad", broken=True)
    for args in (["--mappings", str(bad), "check"], ["check", "--mappings", str(bad)]):
        result = gateway(*args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert "targets.yaml" in result.stderr and "nowhere" in result.stderr, args
    for args in (["--mappings", str(good), "check"], ["check", "--mappings", str(good)]):
        result = gateway(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stdout.startswith("ok: 3 file(s), 2 source(s), 1 target(s)"), args


def test_a_missing_mappings_directory_is_an_error_wherever_it_is_given(tmp_path: Path) -> None:
    for args in (["--mappings", "nowhere", "check"], ["check", "--mappings", "nowhere"]):
        result = gateway(*args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert "no such directory: nowhere" in result.stderr, args
        assert result.stdout == "" and "ok:" not in result.stderr


def test_outside_the_repository_errors_are_one_line_not_tracebacks(tmp_path: Path) -> None:
    for args in (["tickets"], ["executions"], ["check"], ["tickets", "DQ-1"]):
        result = gateway(*args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("gateway:")]
        assert lines, result.stderr
    no_database = gateway("tickets", cwd=tmp_path)
    assert no_database.stderr.startswith("gateway: no database at var/gateway.db")


def test_options_after_the_verb_reach_a_real_mirror_and_an_unknown_ticket_is_one_line(
    make_gateway: MakeHarness, tmp_path: Path
) -> None:
    harness = make_gateway()
    assert harness.post("qualytics", qualytics_delivery(7)).status_code == 202
    database = str(harness.settings.database_path)
    directory = str(harness.settings.mappings)
    listed = gateway("tickets", "--mappings", directory, "--database", database, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("DQ-1     New")
    before = gateway("--database", database, "--mappings", directory, "tickets", "DQ-99", cwd=tmp_path)
    assert before.returncode == 1
    assert before.stderr.strip().splitlines() == [before.stderr.strip()]
    assert "DQ-99" in before.stderr and "Traceback" not in before.stderr


def test_serve_help_says_how_many_workers_it_starts(tmp_path: Path) -> None:
    for args in (["serve", "--help"], ["--help"]):
        result = gateway(*args, cwd=tmp_path)
        assert result.returncode == 0
        assert "run the web app, 3 supervised workers" in " ".join(result.stdout.split()), args


def test_a_filter_value_that_matches_nothing_ever_is_refused_naming_the_allowed_ones(
    make_gateway: MakeHarness, tmp_path: Path
) -> None:
    harness = make_gateway()
    assert harness.post("qualytics", qualytics_delivery(7)).status_code == 202
    where = ("--mappings", str(harness.settings.mappings), "--database", str(harness.settings.database_path))
    state = gateway("tickets", "--state", "Foo", *where, cwd=tmp_path)
    assert state.returncode == 2 and "Traceback" not in state.stderr
    assert "--state: 'Foo' is not a ticket state; states: New, In Progress, On Hold, Resolved" in state.stderr
    status = gateway("executions", "--status", "bogus", *where, cwd=tmp_path)
    assert status.returncode == 2 and "Traceback" not in status.stderr
    assert "--status: 'bogus' is not an execution status; statuses: queued, running, succeeded," in status.stderr
    # a state is read as chat reads it
    assert gateway("tickets", "--state", "new", *where, cwd=tmp_path).stdout.startswith("DQ-1     New")
    listed = gateway("executions", "--status", "queued", *where, cwd=tmp_path)  # no worker runs here
    assert listed.returncode == 0 and "queued" in listed.stdout


def test_a_reader_that_leaves_early_gets_no_broken_pipe_noise(make_gateway: MakeHarness, tmp_path: Path) -> None:
    harness = make_gateway()
    for anomaly in range(1, 200):  # far more than the 4 KiB pipe buffer below
        assert harness.post("qualytics", qualytics_delivery(anomaly)).status_code == 202
    command = [
        sys.executable,
        "-m",
        "gateway.run.cli",
        "--mappings",
        str(harness.settings.mappings),
        "--database",
        str(harness.settings.database_path),
        "tickets",
    ]
    with subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "QUALYTICS_SECRET": QUALYTICS_SECRET},
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        fcntl.fcntl(process.stdout.fileno(), F_SETPIPE_SZ, 4096)  # the listing cannot fit: the writer must block
        first = process.stdout.readline()  # like `| head -1`: one line, then the reader is gone
        process.stdout.close()
        errors = process.stderr.read().decode()
        code = process.wait(timeout=60)
    assert first.startswith(b"DQ-")
    assert errors == ""
    assert code == 141


def test_a_database_url_that_is_none_or_a_server_that_is_down_is_one_line(tmp_path: Path) -> None:
    directory = str(mappings(tmp_path / "m"))
    for args, env in [
        (["tickets", "--database", "mysql://db.example/gateway"], {}),
        (["tickets"], {"GATEWAY_DATABASE_URL": "sqlite://var/gateway.db"}),
    ]:
        wrong = gateway("--mappings", directory, *args, cwd=tmp_path, env=env)
        assert wrong.returncode == 2 and "Traceback" not in wrong.stderr, wrong.stderr
        given = "--database" if "--database" in args else "GATEWAY_DATABASE_URL"
        assert wrong.stderr.startswith(f"gateway: {given}: "), wrong.stderr
        assert "is not a database: give a file, sqlite:///PATH or postgresql://" in wrong.stderr
    down = gateway(
        "--mappings", directory, "executions", "--database", "postgresql://gw:s3cret@127.0.0.1:1/gw", cwd=tmp_path
    )
    assert down.returncode == 1 and "Traceback" not in down.stderr, down.stderr
    [line] = down.stderr.splitlines()
    assert line.startswith("gateway: OperationalError: connection failed") and "127.0.0.1" in line
    assert "s3cret" not in line


def test_a_redis_url_redis_cannot_take_is_one_line(make_gateway: MakeHarness, tmp_path: Path) -> None:
    harness = make_gateway()
    where = ("--mappings", str(harness.settings.mappings), "--database", str(harness.settings.database_path))
    for args in (["executions", *where], ["worker", "--burst", *where]):
        result = gateway(*args, cwd=tmp_path, env={"REDIS_URL": "http://user:pw@cache.example:6379"})
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr == (
            "gateway: REDIS_URL: must be redis://HOST:PORT, rediss://HOST:PORT or unix:///PATH, not 'http'\n"
        )


def test_a_port_out_of_range_is_refused_before_anything_listens(tmp_path: Path) -> None:
    directory = str(mappings(tmp_path / "m"))
    for args, error in [
        (["serve", "--port", "99999"], "argument --port: '99999' is not a port (0-65535)"),
        (["emulate", "jira", "--port", "-1"], "argument --port: '-1' is not a port (0-65535)"),
        (["serve", "--sandbox-ports", "9001,70000"], "expected JIRA_PORT,SERVICENOW_PORT (0-65535), not '9001,70000'"),
    ]:
        result = gateway("--mappings", directory, *args, cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert error in result.stderr, result.stderr
    assert not (tmp_path / "var").exists()  # nothing started


def test_a_retention_age_below_zero_prunes_nothing_and_says_so(make_gateway: MakeHarness, tmp_path: Path) -> None:
    harness = make_gateway()
    where = ("--mappings", str(harness.settings.mappings), "--database", str(harness.settings.database_path))
    for days in ("-5", "nan", "inf"):
        result = gateway("db", "prune", "--days", days, *where, cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert f"argument --days: '{days}' is not a number of days (0 or more)" in result.stderr
        assert "pruned" not in result.stdout
    result = gateway("db", "prune", *where, cwd=tmp_path, env={"GATEWAY_RETENTION_DAYS": "-1"})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr == "gateway: GATEWAY_RETENTION_DAYS must be a number, 0 or more, not '-1'\n"


def test_show_without_an_id_says_what_it_needs(make_gateway: MakeHarness, tmp_path: Path) -> None:
    harness = make_gateway()
    where = ("--mappings", str(harness.settings.mappings), "--database", str(harness.settings.database_path))
    result = gateway("executions", "show", *where, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "show needs an execution id (gateway executions lists them)\n"


def test_the_log_level_is_read_in_any_case_and_a_wrong_one_is_one_line(tmp_path: Path) -> None:
    good = mappings(tmp_path / "good")
    for level in ("debug", "Warning", "ERROR"):
        result = gateway("check", "--mappings", str(good), cwd=tmp_path, env={"GATEWAY_LOG_LEVEL": level})
        assert result.returncode == 0, (level, result.stderr)
        assert result.stdout.startswith("ok: 3 file(s)"), level
    wrong = gateway("check", "--mappings", str(good), cwd=tmp_path, env={"GATEWAY_LOG_LEVEL": "verbose"})
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr, wrong.stderr
    assert wrong.stderr.strip() == (
        "gateway: GATEWAY_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'verbose'"
    )
    worker = subprocess.run(
        [sys.executable, str(ROOT / "worker.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "GATEWAY_LOG_LEVEL": "verbose"},
    )
    assert worker.returncode == 1 and "Traceback" not in worker.stderr, worker.stderr
    assert "GATEWAY_LOG_LEVEL must be one of" in worker.stderr


def test_emulate_on_a_taken_port_says_so_and_announces_no_emulator(tmp_path: Path) -> None:
    """`make run`'s sandbox holds 9001/9002: `gateway emulate` there printed a URL and a token, then an OSError."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = gateway("emulate", "servicenow", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""  # no "emulator on ..." line and no control token for an emulator that never ran
    assert result.stderr.strip().splitlines() == [
        f"gateway: port {port} is taken (a running `gateway serve` has its sandbox servicenow there: its control token"
        " is in var/sandbox/control-token); choose another with --port"
    ]


def test_emulate_announces_its_address_and_token_once_it_listens(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with subprocess.Popen(
        [sys.executable, "-m", "gateway.run.cli", "emulate", "jira", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    ) as process:
        assert process.stdout is not None
        try:
            first = process.stdout.readline().decode()
            assert first.startswith(f"jira emulator on http://127.0.0.1:{port} (control: X-Emulator-Token: "), first
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass  # it listens by the time it says so
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_check_names_the_weak_secrets_serve_refuses_to_start_with(tmp_path: Path) -> None:
    """`gateway check` said a plain ok to a secret `gateway serve` then refused ("does not start with weak secrets")."""
    good = mappings(tmp_path / "good")
    short = gateway("check", "--mappings", str(good), cwd=tmp_path, env={"QUALYTICS_SECRET": "abc12345"})
    assert short.returncode == 0 and short.stdout.startswith("ok: 3 file(s)"), short.stderr
    assert (
        "warning: sources.qualytics: field secret is shorter than 16 characters: `gateway serve` does not start with it"
        in short.stderr
    )
    assert "abc12345" not in short.stderr
    token = gateway("check", "--mappings", str(good), cwd=tmp_path, env={"GATEWAY_API_TOKEN": "tok"})
    assert "warning: GATEWAY_API_TOKEN is shorter than 16 characters" in token.stderr
    example = gateway("check", "--mappings", str(good), cwd=tmp_path, env={"QUALYTICS_SECRET": "change-me-qualytics"})
    assert example.returncode == 0, example.stderr
    assert "warning: example secrets (change-me-...) in sources.qualytics: field secret:" in example.stderr
    strong = gateway("check", "--mappings", str(good), cwd=tmp_path)
    assert "warning" not in strong.stderr, strong.stderr


def test_a_ticket_whose_title_spans_lines_is_one_row_of_the_list(make_gateway: MakeHarness, tmp_path: Path) -> None:
    harness = make_gateway()  # a Soda check defined over two lines names its tickets so
    assert harness.post("qualytics", qualytics_delivery(7, container="orders\nand returns")).status_code == 202
    where = ("--mappings", str(harness.settings.mappings), "--database", str(harness.settings.database_path))
    listed = gateway("tickets", *where, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [row] = listed.stdout.splitlines()
    assert row.startswith("DQ-1     New") and "orders and returns" in row


def test_preview_of_a_file_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    good = mappings(tmp_path / "good")
    result = gateway("preview", "--mappings", str(good), "--source", "qualytics", "missing.json", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "gateway: missing.json: No such file or directory"


def test_a_negative_worker_count_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = gateway("--mappings", str(mappings(tmp_path / "m")), "serve", "--workers", "-1", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "argument --workers: '-1' is not a number of workers (0 or more; 0 runs only the web app)" in result.stderr
    assert not (tmp_path / "var").exists()  # nothing started


def test_executions_refuses_what_it_would_ignore(make_gateway: MakeHarness, tmp_path: Path) -> None:
    harness = make_gateway()
    where = ("--mappings", str(harness.settings.mappings), "--database", str(harness.settings.database_path))
    both = gateway("executions", "--failed", "--status", "queued", *where, cwd=tmp_path)
    assert both.returncode == 2 and "Traceback" not in both.stderr, both.stderr
    assert "argument --status: not allowed with argument --failed" in both.stderr
    listed = gateway("executions", "list", "abc123", *where, cwd=tmp_path)
    assert listed.returncode == 2 and listed.stdout == "", listed.stdout
    assert listed.stderr == "gateway: executions list takes no id: gateway executions show abc123\n"
    retried = gateway("executions", "retry", "abc123", "--all-failed", *where, cwd=tmp_path)
    assert retried.returncode == 2 and retried.stdout == "", retried.stdout
    assert retried.stderr == (
        "gateway: retry takes an execution id or --all-failed, not both: gateway executions retry abc123\n"
    )


def test_sandbox_reset_of_a_server_database_names_where_it_was_given(tmp_path: Path) -> None:
    directory = str(mappings(tmp_path / "m"))
    server = "postgresql://gw:s3cret@db.example:5432/gw"
    for args, env, given in [
        (["--database", server], {}, "--database"),
        ([], {"GATEWAY_DATABASE_URL": server}, "GATEWAY_DATABASE_URL"),
    ]:
        result = gateway("--mappings", directory, "sandbox", "reset", *args, cwd=tmp_path, env=env)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr == (
            f"gateway: {given}: sandbox reset clears the sandbox's SQLite mirror, not"
            " 'postgresql://gw:***@db.example:5432/gw'\n"
        )


def test_a_setting_of_zero_that_cannot_work_is_one_line(tmp_path: Path) -> None:
    result = gateway(
        "check", "--mappings", str(mappings(tmp_path / "m")), cwd=tmp_path, env={"GATEWAY_LEASE_SECONDS": "0"}
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr == "gateway: GATEWAY_LEASE_SECONDS must be more than 0, not '0'\n"

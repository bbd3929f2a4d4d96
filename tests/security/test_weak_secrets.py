"""`gateway serve` refuses secrets anyone could guess, except the sandbox's examples (with a warning)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import ROOT

WEAK = """
sources:
  soda: {kind: soda, token: "soda-t0ken"}
  generic: {kind: generic, hmac_secret: "change-me-generic"}
targets:
  mirror: {kind: local}
flows:
  - name: open
    trigger: {type: anomaly}
    actions:
      - create_ticket: {targets: [mirror], short_description: "{{ event.title }}"}
"""


def serve(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "m.yaml").write_text(WEAK)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") and k != "REDIS_URL"}
    env = {
        **clean,
        "PYTHONPATH": str(ROOT),
        "GATEWAY_MAPPINGS": str(tmp_path / "mappings"),
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
    }
    return subprocess.run(
        [sys.executable, "-m", "gateway.run.cli", "serve", "--no-sandbox", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )


def test_short_and_example_secrets_stop_the_gateway_outside_the_sandbox(tmp_path: Path) -> None:
    refused = serve(tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "error: sources.soda: field token is shorter than 16 characters" in refused.stderr
    assert "error: sources.generic: field hmac_secret is an example value" in refused.stderr
    assert "soda-t0ken" not in refused.stderr  # the message names the field, never the value

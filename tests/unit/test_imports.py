"""Serving the web app or loading mappings must not pull in tracker clients, tenacity or the job runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["jira", "pysnow", "tenacity", "gateway.execute"]


def loaded_after(module: str) -> list[str]:
    """Which of HEAVY a fresh interpreter has in sys.modules after importing `module`."""
    code = f"import json, sys, {module}; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_the_web_app_imports_no_tracker_client_retry_library_or_runner() -> None:
    assert loaded_after("gateway.web.app") == []


@pytest.mark.parametrize("module", ["gateway.rules.loader", "connectors.registry"])
def test_loading_mappings_imports_no_tracker_client(module: str) -> None:
    assert not {"jira", "pysnow"} & set(loaded_after(module))


def test_building_a_connector_imports_its_client_then() -> None:
    code = (
        "import sys; from connectors.registry import KINDS; t = KINDS['jira'].config_type; "
        "assert 'jira' not in sys.modules; from connectors.jira.connector import build; print('jira' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"

"""A webhook action's rendered URL stays under what the mappings wrote out."""

from __future__ import annotations

import pytest

from gateway.rules.schema import Webhook

HOOK = Webhook(url="https://q.example/api/anomalies/{{ ticket.anomaly_ids[0] | urlencode }}")


@pytest.mark.parametrize(
    ("rendered", "kept"),
    [
        ("https://q.example/api/anomalies/42", True),
        ("https://q.example/api/anomalies/orders%2Fid", True),
        ("https://q.example/api/anomalies/../../users/1", False),
        ("https://q.example/api/anomalies/%2e%2e/%2E%2E/users/1", False),
        ("https://q.example/api/anomalies/..%5C..%5Cusers", False),
        ("https://q.example/api/anomalies/./42", False),
        ("https://q.example/api/users/1", False),
        ("http://q.example/api/anomalies/42", False),
        ("https://q.example.evil/api/anomalies/42", False),
    ],
)
def test_a_rendered_url_keeps_to_the_mappings(rendered: str, kept: bool) -> None:
    assert HOOK.keeps_to(rendered) is kept

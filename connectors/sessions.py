"""The trackers' `requests` sessions: the environment read once, calls sent over kept-alive connections.

With `trust_env` on, requests looks up proxies, no_proxy and netrc on every call (a measurable
share of a worker's time per action); the gateway reads them once per client instead. The calls
themselves go through `connectors.transport` (urllib3's pool costs more CPU than the exchange).
"""

from __future__ import annotations

import os

import requests

from connectors.transport import mount


def prepare_session(session: requests.Session, url: str) -> None:
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and session.verify is True:
        session.verify = bundle
    session.trust_env = False
    mount(session)

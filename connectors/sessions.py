"""The trackers' `requests` sessions read the environment once, when the client is built.

With `trust_env` on, requests looks up proxies, no_proxy and netrc on every call (a measurable
share of a worker's time per action); the gateway reads them once per client instead.
"""

from __future__ import annotations

import os

import requests


def settle_environment(session: requests.Session, url: str) -> None:
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and session.verify is True:
        session.verify = bundle
    session.trust_env = False

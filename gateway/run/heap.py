"""What start-up built stays out of the garbage collector's way."""

from __future__ import annotations

import gc

# Container objects allocated (net) before the collector walks the young ones, in the ingress's processes.
# Python's 700 is a walk every request or two in the web process (4% of its instructions a webhook); at 20,000
# most of a request's objects are gone before the walk, for a few MB of uncollected cycles at most. Workers
# keep Python's: the gain was measured on the ingress only, and their latency runs could not tell the two apart.
INGRESS_YOUNG_COLLECTION_AT = 20_000


def freeze_startup_heap(young_collection_at: int | None = None) -> None:
    """Move every object alive now (modules, mappings, clients) to the collector's permanent generation.

    A full collection walks every tracked object: in a worker at 100 webhooks/s each took 60-100 ms
    (about 90,000 objects, nearly all from imports), and every action in that worker waited for it.
    Frozen, a full collection walks only what requests made since. It also keeps the pages of a
    forking worker's heap shared with its work horses (no collector writes into them)."""
    gc.collect()
    gc.freeze()
    if young_collection_at is not None:
        gc.set_threshold(young_collection_at, *gc.get_threshold()[1:])

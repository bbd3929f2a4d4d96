"""A Great Expectations 1.x checkpoint action that posts validation results to the gateway.

GX's stock `APINotificationAction` posts its list with `data=` (requests then fails) and no
auth header. Add this to a checkpoint instead (`pip install 'dq-ticketing-gateway[great_expectations]'`):

    from gateway.integrations.great_expectations import GatewayAction
    gx.Checkpoint(name=..., validation_definitions=[...],
                  actions=[GatewayAction(name="gateway", url="https://gw/v1/webhooks/gx")])

The token comes from `token=` or, better, the `GX_WEBHOOK_TOKEN` environment variable, so it
is not stored with the checkpoint. GX is imported only when `GatewayAction` is first used:
the rest of the gateway never needs it.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Literal, Optional

TOKEN_VARIABLE = "GX_WEBHOOK_TOKEN"
# Batch parameters that are data, not a partition's name.
_NOT_PARTITIONS = ("dataframe", "path")


def notification(suite: str, batch_id: str, meta: dict[str, Any], results: list[Any]) -> dict[str, Any]:
    """One validation run as the gateway's `great_expectations` source reads it (JSON-ready `results`)."""
    definition = meta.get("active_batch_definition") or {}
    if not isinstance(definition, dict):  # a LegacyBatchDefinition object before serialisation
        definition = definition.to_json_dict()
    parameters = meta.get("batch_parameters") or {}
    return {
        "test_suite_name": suite,
        "data_asset_name": definition.get("data_asset_name") or batch_id,
        "datasource_name": definition.get("datasource_name"),
        "batch_id": batch_id,
        "batch_parameters": {k: str(v) for k, v in parameters.items() if k not in _NOT_PARTITIONS},
        "checkpoint_id": meta.get("checkpoint_id"),
        "run_time": str(meta.get("validation_time") or ""),
        "validation_results": results,
    }


@functools.cache
def _action_class() -> type:
    """Built on first use: defining it registers its `type` with GX, which must happen once."""
    import requests
    from great_expectations.checkpoint.actions import ValidationAction
    from great_expectations.util import convert_to_json_serializable

    base: Any = ValidationAction

    class GatewayAction(base):  # type: ignore[misc]
        """Posts every validation run of the checkpoint to a gateway `great_expectations` source."""

        type: Literal["dq_gateway"] = "dq_gateway"
        url: str
        token: Optional[str] = None  # noqa: UP045  (pydantic v1 evaluates this at class creation)
        timeout: float = 10.0

        def run(self, checkpoint_result: Any, action_context: Any = None) -> dict[str, Any]:
            token = self.token or os.environ.get(TOKEN_VARIABLE)
            if not token:
                raise ValueError(f"GatewayAction: set token= or the {TOKEN_VARIABLE} environment variable")
            body = [
                notification(
                    result.suite_name,
                    str(run_id.batch_identifier),
                    convert_to_json_serializable(result.meta),
                    convert_to_json_serializable(result.results),
                )
                for run_id, result in checkpoint_result.run_results.items()
            ]
            response = requests.post(
                self.url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=self.timeout
            )
            if response.status_code >= 400:
                raise RuntimeError(
                    f"the gateway refused the results: HTTP {response.status_code} {response.text[:300]}"
                )
            return {"status_code": response.status_code, "gateway": response.json()}

    return GatewayAction


def __getattr__(name: str) -> Any:
    if name == "GatewayAction":
        return _action_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Rebuild openapi-fragment.json from Atlassian's full description (not run by the tests).

    python tests/data/jira/vendor_openapi.py path/to/jira-platform-openapi.json

Keeps only the operations the Jira connector calls, their request bodies' schemas (with
every schema they reference) and a few response schemas the emulator's answers are checked
against. Operations newer than the vendored description are added by hand (see NOTE).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OPERATIONS = {
    ("/rest/api/3/serverInfo", "get"): ["200"],
    ("/rest/api/3/issue", "post"): ["201", "400"],
    ("/rest/api/3/issue/{issueIdOrKey}", "get"): [],
    ("/rest/api/3/issue/{issueIdOrKey}/transitions", "get"): ["200"],
    ("/rest/api/3/issue/{issueIdOrKey}/transitions", "post"): [],
    ("/rest/api/3/issue/{issueIdOrKey}/comment", "get"): ["200"],
    ("/rest/api/3/issue/{issueIdOrKey}/comment", "post"): [],
    ("/rest/api/3/issue/{issueIdOrKey}/comment/{id}", "put"): [],
    ("/rest/api/3/search", "get"): [],
}
NOTE = (
    "Fragment of Atlassian's Jira Cloud platform REST API OpenAPI description (Apache-2.0, see LICENSE). "
    "Only the operations the gateway's Jira connector uses are kept, without prose and examples. "
    "api/2 has the same operations with plain text instead of Atlassian Document Format in "
    "description, environment and comment body (x-api2-text). POST /rest/api/3/search/jql and "
    "GET .../issue/createmeta/{projectIdOrKey}/issuetypes[/{issueTypeId}] are newer than the vendored "
    "description; they were transcribed by hand from Atlassian's published reference "
    "(SearchAndReconcileRequestBean) and are marked x-hand-written."
)
PAGING = [
    {"name": "startAt", "in": "query", "schema": {"type": "integer", "format": "int32"}},
    {"name": "maxResults", "in": "query", "schema": {"type": "integer", "format": "int32"}},
]
HAND_WRITTEN: dict[str, Any] = {
    "paths": {
        "/rest/api/3/search/jql": {
            "post": {
                "operationId": "searchAndReconsileIssuesUsingJqlPost",
                "x-hand-written": True,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/SearchAndReconcileRequestBean"}
                        }
                    },
                },
            }
        },
        "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes": {
            "get": {
                "operationId": "getCreateIssueMetaIssueTypes",
                "x-hand-written": True,
                "parameters": PAGING,
            }
        },
        "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}": {
            "get": {
                "operationId": "getCreateIssueMetaIssueTypeId",
                "x-hand-written": True,
                "parameters": PAGING,
            }
        },
    },
    "schemas": {
        "SearchAndReconcileRequestBean": {
            "type": "object",
            "required": ["jql"],
            "additionalProperties": False,
            "x-hand-written": True,
            "properties": {
                "jql": {"type": "string"},
                "nextPageToken": {"type": "string"},
                "maxResults": {"type": "integer", "format": "int32"},
                "fields": {"type": "array", "items": {"type": "string"}},
                "expand": {"type": "string"},
                "properties": {"type": "array", "items": {"type": "string"}},
                "fieldsByKeys": {"type": "boolean"},
                "failFast": {"type": "boolean"},
                "reconcileIssues": {"type": "array", "items": {"type": "integer", "format": "int64"}},
            },
        }
    },
}


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if "$ref" in node else set()
        for value in node.values():
            found |= refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node)) if node else set()
    return set()


def trimmed(node: Any) -> Any:
    """Drop prose and examples: the checks need types, required keys and references only."""
    if isinstance(node, dict):
        return {k: trimmed(v) for k, v in node.items() if k not in ("description", "example", "examples")}
    if isinstance(node, list):
        return [trimmed(v) for v in node]
    return node


# where the description shows an ADF document: (path, method, where in the request body example)
ADF_EXAMPLES = [
    ("/rest/api/3/issue", "post", ("fields", "description")),
    ("/rest/api/3/issue/{issueIdOrKey}/comment", "post", ("body",)),
    ("/rest/api/3/issue/{issueIdOrKey}/comment/{id}", "put", ("body",)),
]


def adf_fragment(spec: dict[str, Any]) -> dict[str, Any]:
    """All the description says about ADF where the gateway sends it: the body/description
    properties (no schema, only prose) and the ADF documents of the request examples."""
    examples = {}
    for path, method, where in ADF_EXAMPLES:
        value = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["example"]
        for key in where:
            value = value[key]
        examples[f"{method.upper()} {path} {'.'.join(where)}"] = value
    schemas = spec["components"]["schemas"]
    return {
        "info": {**spec["info"], "x-vendored-note": ADF_NOTE},
        "properties": {
            "Comment.body": schemas["Comment"]["properties"]["body"],
            "IssueUpdateDetails.fields": schemas["IssueUpdateDetails"]["properties"]["fields"],
        },
        "examples": examples,
    }


ADF_NOTE = (
    "Fragment of Atlassian's Jira Cloud platform REST API OpenAPI description (Apache-2.0, see LICENSE): "
    "what it says about Atlassian Document Format where the gateway sends rich text. It gives ADF no "
    "schema (Comment.body has only a description; IssueUpdateDetails.fields takes any value), so the "
    "request examples' documents are kept as the shape to match."
)


def main(source: Path, target: Path) -> None:
    spec = json.loads(source.read_text())
    paths: dict[str, Any] = {}
    for (path, method), keep in OPERATIONS.items():
        op = dict(spec["paths"][path][method])
        op["responses"] = {code: op["responses"][code] for code in keep if code in op["responses"]}
        for drop in (
            "description",
            "x-atlassian-connect-scope",
            "x-atlassian-oauth2-scopes",
            "security",
            "x-experimental",
        ):
            op.pop(drop, None)
        paths.setdefault(path, {})[method] = op
    schemas: dict[str, Any] = {}
    todo = refs(paths)
    while todo:
        name = todo.pop()
        if name in schemas:
            continue
        schemas[name] = spec["components"]["schemas"][name]
        todo |= refs(schemas[name]) - set(schemas)
    for path, ops in HAND_WRITTEN["paths"].items():
        paths.setdefault(path, {}).update(ops)
    schemas.update(HAND_WRITTEN["schemas"])
    fragment = {
        "openapi": spec["openapi"],
        "info": {**spec["info"], "x-vendored-note": NOTE},
        "x-api2-text": {"IssueUpdateDetails.fields": ["description", "environment"], "Comment": ["body"]},
        "paths": trimmed(paths),
        "components": {"schemas": trimmed(dict(sorted(schemas.items())))},
    }
    target.write_text(json.dumps(fragment, indent=1, sort_keys=False) + "\n")
    target.with_name("adf-fragment.json").write_text(json.dumps(adf_fragment(spec), indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).with_name("openapi-fragment.json"))

"""OpenAPI links: how the answer of one operation feeds the path of the next.

A complaint's actions (respond, accept-offer, withdraw, messages, evidence, appeal, rule, …) all
live under `/api/v1/disputes/{number}/`. Without links, a schema fuzzer only ever tries random
numbers there and gets 404s; with them, its stateful phase takes a real number from the list or
from a filing and drives the complaint through its actions (.ci/fuzz.sh,
docs/security/hostile-input.md). Clients may read them as documentation of the same flow.

Added by a drf-spectacular post-processing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]),
from the paths, so a renamed operationId cannot leave a dangling link.
"""

from __future__ import annotations

from typing import Any

API = "/api/v1"

# (source path, method, status, path parameter, runtime expression, target path prefix)
# Every operation whose path starts with the target prefix and takes `parameter` gets a link.
_LINKS: list[tuple[str, str, str, str, str, str]] = [
    # Complaints: from the list (the caller's own), from a filing, from one complaint.
    (f"{API}/disputes/", "get", "200", "number", "$response.body#/results/0/number", "disputes"),
    (f"{API}/disputes/", "post", "201", "number", "$response.body#/number", "disputes"),
    (f"{API}/disputes/{{number}}/", "get", "200", "number", "$request.path.number", "disputes"),
    # Orders: list and creation → detail, pay, reveal.
    (f"{API}/orders/", "get", "200", "number", "$response.body#/results/0/number", "orders"),
    (f"{API}/orders/", "post", "201", "number", "$response.body#/number", "orders"),
    # Products: catalogue → product; the shop's products → card-key import.
    (f"{API}/products/", "get", "200", "id", "$response.body#/results/0/id", "products"),
    (f"{API}/merchant/products/", "get", "200", "id", "$response.body#/results/0/id", "merchant"),
    (f"{API}/merchant/products/", "post", "201", "id", "$response.body#/id", "merchant"),
    # The blacklist: an entry added → lifted.
    (f"{API}/staff/blacklist/", "post", "201", "id", "$response.body#/id", "staff/blacklist"),
    (
        f"{API}/staff/blacklist/",
        "get",
        "200",
        "id",
        "$response.body#/results/0/id",
        "staff/blacklist",
    ),
]

# The evidence file of a complaint: its id is in the complaint's `evidence` list.
_EVIDENCE_FILE = f"{API}/disputes/{{number}}/evidence/{{id}}/"


def _operations(paths: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in paths.items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found.append((path, method, operation))
    return found


def _path_parameters(path: str) -> set[str]:
    return {part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")}


def add_links(result: dict[str, Any], generator: Any, request: Any, public: Any) -> dict[str, Any]:
    paths = result.get("paths", {})
    operations = _operations(paths)
    for source, method, status, parameter, expression, prefix in _LINKS:
        response = paths.get(source, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        links = response.setdefault("links", {})
        for path, target_method, operation in operations:
            if (
                not path.startswith(f"{API}/{prefix}/")
                or path == source
                and method == target_method
            ):
                continue
            if _path_parameters(path) != {parameter}:
                continue
            links[operation["operationId"]] = {
                "operationId": operation["operationId"],
                "parameters": {parameter: expression},
            }
        if not links:
            del response["links"]
    detail = paths.get(f"{API}/disputes/{{number}}/", {}).get("get", {})
    evidence_file = paths.get(_EVIDENCE_FILE, {}).get("get")
    if detail and evidence_file:
        links = detail["responses"]["200"].setdefault("links", {})
        links[evidence_file["operationId"]] = {
            "operationId": evidence_file["operationId"],
            "parameters": {"number": "$request.path.number", "id": "$response.body#/evidence/0/id"},
        }
    return result

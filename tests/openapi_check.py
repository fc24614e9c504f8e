"""Every response under /api/v1/ that the suite produces is checked against the published OpenAPI
document (`bianmin.api.api`): its status must be documented for the operation and a JSON body must
validate against the documented schema. A test whose responses break the contract fails.

Responses are recorded where Django makes them (`BaseHandler.get_response`), so the test client and
the live server (urllib, browsers) are both seen; they are checked when the test ends, in the main
thread. tests/conftest.py imports the fixture, which makes it apply to every test."""

from __future__ import annotations

import json
import re
import threading

import pytest

_spec = None
_operations: list | None = None
_lock = threading.Lock()
_validators: dict = {}
SKIPPED = ("/api/v1/docs", "/api/v1/openapi.json")


def spec() -> dict:
    global _spec
    if _spec is None:
        from bianmin.api import api

        _spec = api.get_openapi_schema()
    return _spec


def operations() -> list[tuple[re.Pattern, str, dict]]:
    global _operations
    if _operations is None:
        _operations = []
        for template, ops in spec()["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$")
            for method, op in ops.items():
                _operations.append((pattern, method.upper(), op))
    return _operations


def find(method: str, path: str):
    """The operation the published document has for this method and path, or None."""
    for pattern, m, op in operations():
        if m == method and pattern.match(path):
            return op
    return None


def problem(method: str, path: str, status: int, content_type: str, body: bytes) -> str | None:
    """What is wrong with this response, or None."""
    from jsonschema import Draft202012Validator

    op = find(method, path)
    if op is None:
        if status in (404, 405) or (status == 400 and "\x00" in path):
            return None  # no such route or method (or a NUL refused first): the framework's answer
        return f"{method} {path} answered {status} but is not in the OpenAPI document"
    documented = op["responses"].get(str(status)) or op["responses"].get(status)
    if documented is None:
        return f"{method} {path} answered {status}, not documented (documented: {sorted(op['responses'])})"
    schema = (documented.get("content") or {}).get("application/json", {}).get("schema")
    if schema is None or not content_type.startswith("application/json"):
        return None  # a file, a PDF, or a response without a body schema
    try:
        data = json.loads(body)
    except ValueError:
        return f"{method} {path} answered {status} with invalid JSON"
    key = json.dumps(schema, sort_keys=True)
    validator = _validators.get(key)
    if validator is None:
        validator = _validators[key] = Draft202012Validator({**schema, "components": spec()["components"]})
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        return f"{method} {path} {status}: {'/'.join(map(str, e.path)) or '(body)'}: {e.message[:300]}"
    return None


@pytest.fixture(autouse=True)
def _api_responses_match_openapi(request, monkeypatch):
    from django.core.handlers.base import BaseHandler

    seen: list[tuple] = []
    original = BaseHandler.get_response

    def get_response(self, req):
        response = original(self, req)
        path = req.path
        if path.startswith("/api/v1/") and not path.startswith(SKIPPED) and not getattr(response, "streaming", False):
            with _lock:
                seen.append((req.method, path, response.status_code, response.get("Content-Type", ""), bytes(response.content)))
        return response

    monkeypatch.setattr(BaseHandler, "get_response", get_response)
    yield
    with _lock:
        found = [p for r in seen if (p := problem(*r))]
    if found:
        shown = "\n".join(dict.fromkeys(found))  # each kind once
        pytest.fail(f"{len(found)} API response(s) break the published OpenAPI schema:\n{shown[:4000]}", pytrace=False)

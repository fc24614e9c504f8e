"""The published OpenAPI document tells the truth: one schema per name, and the response checker that
every test runs (tests/openapi_check.py) catches a response that breaks it."""

import importlib
import json
import pkgutil

import ninja
from django.test import Client

import bianmin
from tests import openapi_check


def _all_schema_classes():
    for info in pkgutil.walk_packages(bianmin.__path__, "bianmin."):
        if ".migrations" in info.name or info.name.endswith(("wsgi", "asgi", "cli", "__main__")):
            continue
        importlib.import_module(info.name)
    found, todo = [], [ninja.Schema]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("bianmin."):
                found.append(sub)
    return found


def test_every_api_schema_name_is_unique():
    """Two classes with one name become one OpenAPI schema, and the other's responses break it (issue 11:
    two TaskOut, two KpiOut)."""
    by_name: dict[str, list[str]] = {}
    for cls in _all_schema_classes():
        by_name.setdefault(cls.__name__, []).append(f"{cls.__module__}.{cls.__qualname__}")
    assert {n: where for n, where in by_name.items() if len(set(where)) > 1} == {}
    names = set(openapi_check.spec()["components"]["schemas"])
    assert {"ReviewTaskOut", "PlanTaskOut", "PlanKpiOut", "KpiOut"} <= names and "TaskOut" not in names


def test_error_answers_are_documented_where_they_occur():
    paths = openapi_check.spec()["paths"]
    assert set(paths["/api/v1/items/{code}"]["get"]["responses"]) >= {"200", "404"} or \
        set(map(str, paths["/api/v1/items/{code}"]["get"]["responses"])) >= {"200", "404"}
    for path, method in (("/api/v1/cases", "post"), ("/api/v1/staff/cases/{number}/accept", "post"),
                         ("/api/v1/licences/verify", "get")):
        documented = set(map(str, paths[path][method]["responses"]))
        assert {"400", "404", "422", "503"} <= documented, (path, documented)
    error = openapi_check.spec()["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"code", "message"} and {"field", "details"} <= set(error["properties"])


def test_the_checker_accepts_a_real_answer_and_refuses_a_broken_one(people):
    c = Client()
    c.force_login(people["citizen_user"])
    r = c.get("/api/v1/cases")
    assert r.status_code == 200
    assert openapi_check.problem("GET", "/api/v1/cases", 200, r["Content-Type"], r.content) is None
    broken = json.dumps({**r.json(), "count": "many"}).encode()
    assert "count" in openapi_check.problem("GET", "/api/v1/cases", 200, "application/json", broken)
    assert "not documented" in openapi_check.problem("GET", "/api/v1/cases", 418, "application/json", b"{}")
    assert "not in the OpenAPI document" in openapi_check.problem("GET", "/api/v1/nowhere", 200, "application/json", b"{}")
    missing = json.dumps({"message": "x"}).encode()  # an error without its code
    assert "code" in openapi_check.problem("GET", "/api/v1/cases", 403, "application/json", missing)

"""NUL characters are refused with a 400 before they reach the database (PostgreSQL would fail on them)."""

import json

import pytest
from django.test import Client

from bianmin.cases.models import Case


@pytest.fixture
def citizen(people):
    c = Client()
    c.force_login(people["citizen_user"])
    return c


def test_nul_in_paths_queries_and_bodies_is_a_400(citizen, make_item):
    item = make_item(audience="both")
    for url in ("/my/cases/%00/", "/items/%00/", "/?q=%00", "/?q=a\x00b"):
        r = citizen.get(url)
        assert r.status_code == 400, url
        assert "不允许的控制字符" in r.content.decode()
    r = citizen.get("/api/v1/cases/%00")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_characters")
    body = json.dumps({"item_code": item.code, "form_data": {"说明": "a\u0000b"}, "materials": {}})
    r = citizen.post("/api/v1/cases", body, content_type="application/json")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_characters")
    r = citizen.post(f"/apply/{item.code}/", "contact_name=%00", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400
    assert not Case.objects.exists()


def test_ordinary_percent_signs_pass(citizen):
    assert citizen.get("/?q=100%25").status_code == 200
    assert citizen.get("/my/cases/440800-20260101-000001/").status_code == 404

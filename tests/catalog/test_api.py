"""The catalog API: filters, search, pagination, detail, proofs; every bad input a 4xx with a code."""

import pytest

from bianmin.catalog.models import CancelledProof, Proof


@pytest.fixture
def items(make_item, departments):
    police = departments["police"]
    return [
        make_item(name="食品经营许可证核发", code="A-001", is_immediate=False, online_level=4, max_visits=0),
        make_item(name="个体工商户设立登记", code="A-002", is_immediate=True, promised_days=0, audience="both", nearby_levels="county,town"),
        make_item(police, name="居民身份证换领", code="B-001", audience="person", online_level=2, max_visits=2, kind="public_service"),
        make_item(police, name="户口迁移", code="B-002", audience="person", status="draft"),
    ]


def get(client, **params):
    return client.get("/api/v1/items", params)


def codes_of(response):
    return [r["code"] for r in response.json()["results"]]


def test_lists_published_items_with_count(client, items):
    r = get(client)
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3 and body["page"] == 1
    assert codes_of(r) == ["A-001", "A-002", "B-001"]
    first = body["results"][0]
    assert first["department"] == "湛江市市场监督管理局" and first["kind_label"] == "行政许可"
    assert first["url"] == "/items/A-001/"


@pytest.mark.parametrize("params,expected", [
    ({"immediate": "1"}, ["A-002"]),
    ({"online": "1"}, ["A-001", "A-002"]),            # online_level 4 and the default 4; B-001 has 2
    ({"online": "0"}, ["B-001"]),
    ({"one_visit": "1"}, ["A-001", "A-002"]),         # B-001 needs 2 visits
    ({"nearby": "1"}, ["A-002"]),                     # only A-002 is available at a town hall
    ({"audience": "person"}, ["A-002", "B-001"]),     # "both" counts for people too
    ({"audience": "legal_person"}, ["A-001", "A-002"]),
    ({"kind": "public_service"}, ["B-001"]),
    ({"q": "身份证"}, ["B-001"]),
    ({"q": "gsh"}, ["A-002"]),                        # 工商户, a word of 个体工商户, has the initials gsh
])
def test_filters(client, items, params, expected):
    r = get(client, **params)
    assert r.status_code == 200, r.content
    assert sorted(codes_of(r)) == expected


def test_filter_by_department(client, items, departments):
    r = get(client, department=str(departments["police"].pk))
    assert codes_of(r) == ["B-001"]


def test_pagination(client, items):
    r = get(client, page_size="2", page="2")
    assert r.json()["count"] == 3 and codes_of(r) == ["B-001"]


@pytest.mark.parametrize("params,field", [
    ({"level": "province"}, "level"),
    ({"department": "abc"}, "department"),
    ({"immediate": "maybe"}, "immediate"),
    ({"page": "0"}, "page"),
    ({"page": "x"}, "page"),
    ({"page_size": "1000"}, "page"),
])
def test_bad_parameters_are_400_with_code(client, items, params, field):
    r = get(client, **params)
    assert r.status_code == 400
    body = r.json()
    assert body["code"] in ("invalid_filter", "invalid_page") and body["field"] == field
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])  # the message is in Chinese


def test_detail_has_ten_elements_and_materials(client, items):
    r = client.get("/api/v1/items/A-001")
    assert r.status_code == 200
    d = r.json()
    for key in ("name", "code", "basic_code", "kind", "legal_basis", "department", "conditions", "materials", "route",
                "statutory_days", "promised_days", "fees"):
        assert key in d
    assert [m["name"] for m in d["materials"]] == ["食品经营许可申请书", "营业执照", "食品安全管理制度文本"]
    assert d["materials"][2]["pending_allowed"] is True
    assert d["materials"][1]["satisfied_by"] == "yyzz"


def test_draft_and_unknown_items_are_404(client, items):
    for code in ("B-002", "NOPE", "x" * 500):
        r = client.get(f"/api/v1/items/{code}")
        assert r.status_code == 404 and r.json()["code"] == "item_not_found"


def test_proofs_lists_only_retained(client, db):
    Proof.objects.create(name="出生医学证明", legal_basis="《中华人民共和国母婴保健法》第二十三条", requesting_unit="公安机关", issuing_unit="助产机构")
    Proof.objects.create(name="旧证明", legal_basis="-", requesting_unit="-", issuing_unit="-", is_retained=False)
    CancelledProof.objects.create(name="亲属关系证明", requesting_unit="公安机关", reason="online_check", cancelled_on="2019-06-30")
    r = client.get("/api/v1/proofs")
    assert [p["name"] for p in r.json()] == ["出生医学证明"]
    r = client.get("/api/v1/proofs/cancelled")
    assert r.json()[0]["reason_label"] == "能通过网络核验"


def test_openapi_schema_is_served(client, db):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert "/api/v1/items" in r.json()["paths"]


def test_list_query_count_is_flat(client, make_item, django_assert_max_num_queries):
    for n in range(30):
        make_item(code=f"N-{n:03d}")
    with django_assert_max_num_queries(3):  # count + page (+ savepoint noise)
        r = get(client, page_size="30")
    assert len(r.json()["results"]) == 30


def test_unparseable_json_body_is_a_chinese_400(client, people):
    from bianmin.core import services as auth  # noqa: F811

    token = auth.issue_token(people["citizen_user"], "test")
    r = client.post("/api/v1/cases", data="{not json", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 400
    assert r.json() == {"code": "invalid_body", "message": "请求体无法解析,请发送有效的 JSON"}

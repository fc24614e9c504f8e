"""The supervisors' dashboard, its drill-down lists, Excel export and the KPI API: who may see what,
filters (bad values answered in Chinese, never a 500), query counts. The data is test_kpis' `world`
(today Tue 2026-11-10); expected figures are worked out there."""

import io

import pytest
from django.contrib.auth.models import User
from openpyxl import load_workbook

from bianmin.core import services as auth
from bianmin.cases.models import Case, CaseStatus
from bianmin.org.models import Role
from tests.conftest import make_staff
from tests.supervision.test_kpis import world  # noqa: F401  (fixture)

URL = "/console/supervision/"
SEP_OCT = "from=2026-09&to=2026-10"


@pytest.fixture
def users(world, staff):  # noqa: F811
    return {
        "supervisor": staff["supervisor"].user,
        "admin": staff["admin"].user,
        "clerk": staff["market_clerk"].user,
        "market_head": make_staff("market_head", world["market"], Role.APPROVER, is_head=True).user,
        "market_reviewer": make_staff("market_reviewer", world["market"], Role.REVIEWER).user,
        "civil_head": make_staff("civil_head", world["civil"], Role.APPROVER, is_head=True).user,
        "citizen": User.objects.create_user(username="citizen_x", password="Bianmin!2026"),
    }


def get(client, user, url):
    client.force_login(user)
    return client.get(url)


# ------------------------------------------------------------------------------------------- access

def test_anonymous_goes_to_login(client, world):  # noqa: F811
    for url in (URL, URL + "kpi/online_rate/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/console/login/?next="), url


@pytest.mark.parametrize("who", ["citizen", "clerk", "market_reviewer"])
def test_staff_without_supervision_rights_get_403(client, users, who):
    for url in (URL, URL + "kpi/online_rate/", URL + "kpi/on_time_rate/"):
        assert get(client, users[who], url).status_code == 403, url


@pytest.mark.parametrize("who", ["supervisor", "admin"])
def test_supervisors_see_the_whole_city(client, users, who):
    r = get(client, users[who], f"{URL}?{SEP_OCT}")
    assert r.status_code == 200
    html = r.content.decode()
    assert "全市 · 2026年9月至2026年10月" in html
    assert "62.5%" in html and "差 37.5 个百分点" in html          # 网上可办率 against 2020's 100%
    assert "已达标(超 2.5 个百分点)" in html                        # … and against 2018's 60%
    assert "75%" in html and "3.5 工作日" in html                   # on-time rate, average working days
    assert "湛江市赤坎区民政局" in html and "各县(市、区)对比" in html
    assert '<svg class="chart' in html and "<title id=" in html
    assert "<dt>即办率</dt><dd>面向自然人的现场办理事项(可在实体大厅申办)中,即办件所占比例。</dd>" in html  # definitions in text
    assert f'<option value="{users["market_head"].staff.department_id}">湛江市市场监督管理局</option>' in html  # the filter


def test_a_department_head_sees_only_their_department(client, users, world):  # noqa: F811
    r = get(client, users["market_head"], f"{URL}?{SEP_OCT}")
    assert r.status_code == 200
    html = r.content.decode()
    assert world["market"].name in html
    assert "湛江市赤坎区民政局" not in html and "各县(市、区)对比" not in html
    assert "60%" in html        # market's 网上可办率: 3 of 5
    assert "100%" in html       # market's on-time rate: A, B, C
    own = get(client, users["market_head"], f"{URL}?department={world['market'].pk}")
    assert own.status_code == 200
    for url in (f"{URL}?department={world['civil'].pk}", f"{URL}kpi/on_time_rate/?department={world['civil'].pk}"):
        assert get(client, users["market_head"], url).status_code == 404, url


def test_a_head_filtering_by_division_still_sees_only_their_department(client, users, world):  # noqa: F811
    r = get(client, users["civil_head"], f"{URL}kpi/on_time_rate/?{SEP_OCT}&region=440800")
    assert r.status_code == 200
    assert [c.number for c in (row["case"] for row in r.context["rows"])] == [world["cases"]["D"].number]


# ------------------------------------------------------------------------------------------ filters

@pytest.mark.parametrize("query,message", [
    ("from=2026-13", "月份格式应为 YYYY-MM"),
    ("from=abc&to=2026-01", "月份格式应为 YYYY-MM"),
    ("to=99999999999999999999", "月份格式应为 YYYY-MM"),
    ("from=2026-10&to=2026-09", "起始月份不能晚于结束月份"),
    ("region=abc", "行政区划代码应为不超过 12 位的数字"),
    ("region=440899", "找不到该行政区划"),
    ("department=x1", "部门编号应为正整数"),
    ("department=99999999999999999999999", "部门编号应为正整数"),
    ("department=4242", "找不到该部门"),
    ("department=%EF%BC%91", "部门编号应为正整数"),        # a full-width digit
    ("region=%EF%BC%94%EF%BC%94%EF%BC%90%EF%BC%98%EF%BC%90%EF%BC%90", "行政区划代码应为不超过 12 位的数字"),
    ("from=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-01", "月份格式应为 YYYY-MM"),
])
def test_bad_filters_get_a_chinese_message(client, users, query, message):
    for url in (f"{URL}?{query}", f"{URL}kpi/on_time_rate/?{query}"):
        r = get(client, users["supervisor"], url)
        assert r.status_code == 400, url
        assert message in r.content.decode()


@pytest.mark.parametrize("query", ["region=4408%00", "department=1%00", "from=2026-0%00", "on=2026-01-0%00"])
def test_nul_characters_are_refused(client, users, query):
    for url in (f"{URL}?{query}", f"{URL}kpi/on_time_rate/?{query}"):
        assert get(client, users["supervisor"], url).status_code == 400, url


@pytest.fixture
def online_cut(world):  # noqa: F811
    """Every item version so far dated 2026-01-10; then item 4 stops being online (online_level 1)."""
    from datetime import datetime, timezone

    from bianmin.catalog import services as catalog_services
    from bianmin.catalog.models import ItemVersion
    from tests.conftest import item_data

    ItemVersion.objects.update(changed_at=datetime(2026, 1, 10, 2, 0, tzinfo=timezone.utc))
    item = world["items"][3]
    catalog_services.save_item(item_data(world["market"], code=item.code, audience="person", nearby_levels="",
                                         online_level=1, max_visits=0), item=item, reason="暂停网办")
    return world


def test_catalog_figures_as_of_a_past_day(client, users, online_cut):
    items = online_cut["items"]
    now = get(client, users["supervisor"], URL)
    assert {k["code"]: k for k in now.context["fig"].kpis}["online_rate"]["value"] == 50.0   # 1, 5, 7, 8 of 8
    then = get(client, users["supervisor"], f"{URL}?on=2026-06-30")
    assert {k["code"]: k for k in then.context["fig"].kpis}["online_rate"]["value"] == 62.5  # and item 4 then
    assert "截至2026年6月30日已发布事项" in then.content.decode()
    # the drill-down judges the items by the same day's versions, and the link carries the day
    assert f"kpi/online_rate/?on=2026-06-30&amp;met=0" in then.content.decode()
    r = get(client, users["supervisor"], f"{URL}kpi/online_rate/?on=2026-06-30&met=0")
    assert sorted(i.pk for i in r.context["rows"]) == sorted(items[k].pk for k in (1, 2, 5))
    r = get(client, users["supervisor"], f"{URL}kpi/online_rate/?met=0")
    assert sorted(i.pk for i in r.context["rows"]) == sorted(items[k].pk for k in (1, 2, 3, 5))
    r = client.get(f"/api/v1/supervision/kpis?on=2026-06-30", headers=bearer(users["supervisor"]))
    body = r.json()
    assert body["catalog_on"] == "2026-06-30" and {k["code"]: k for k in body["kpis"]}["online_rate"]["value"] == 62.5


@pytest.mark.parametrize("on", ["2026-13-01", "abc", "2026-11-11", "1999-12-31", "2026-6-30"])
def test_bad_catalog_day(client, users, on):
    r = get(client, users["supervisor"], f"{URL}?on={on}")
    assert r.status_code == 400
    assert "日期" in r.content.decode()
    r = client.get(f"/api/v1/supervision/kpis?on={on}", headers=bearer(users["supervisor"]))
    assert r.status_code == 400 and r.json()["code"] == "invalid_date"


def test_division_filter_narrows_the_figures(client, users):
    r = get(client, users["supervisor"], f"{URL}?{SEP_OCT}&region=440802")
    assert r.status_code == 200
    kpis = {k["code"]: k for k in r.context["fig"].kpis}
    assert (kpis["on_time_rate"]["value"], kpis["online_rate"]["value"]) == (0.0, 66.67)


# --------------------------------------------------------------------------------------- drill-down

def numbers(r):
    return sorted(row["case"].number for row in r.context["rows"])


def test_drill_down_to_items(client, users, world):  # noqa: F811
    items = world["items"]
    r = get(client, users["supervisor"], f"{URL}kpi/online_rate/?met=0")
    assert r.status_code == 200
    assert sorted(i.pk for i in r.context["rows"]) == sorted(items[k].pk for k in (1, 2, 5))  # items 2, 3, 6
    r = get(client, users["supervisor"], f"{URL}kpi/immediate_rate/?met=1")
    assert sorted(i.pk for i in r.context["rows"]) == sorted([items[0].pk, items[2].pk])
    r = get(client, users["supervisor"], f"{URL}kpi/nearby_rate/?region=440802")
    assert r.context["page"].paginator.count == 3 and "共 3 项事项" in r.content.decode()


def test_drill_down_to_cases(client, users, world):  # noqa: F811
    cases = world["cases"]
    sup = users["supervisor"]
    assert numbers(get(client, sup, f"{URL}kpi/on_time_rate/?{SEP_OCT}&met=0")) == [cases["D"].number]
    assert numbers(get(client, sup, f"{URL}kpi/on_time_rate/?{SEP_OCT}")) == sorted(cases[k].number for k in "ABCD")
    assert numbers(get(client, sup, f"{URL}kpi/case_online_rate/?{SEP_OCT}&met=1")) == sorted([cases["B"].number, cases["C"].number])
    assert numbers(get(client, sup, f"{URL}kpi/case_nearby_rate/?{SEP_OCT}&met=0")) == sorted([cases["A"].number, cases["B"].number])
    assert numbers(get(client, sup, f"{URL}kpi/overdue_count/")) == [cases["F"].number]
    assert numbers(get(client, sup, f"{URL}kpi/long_suspension_count/?{SEP_OCT}")) == sorted([cases["D"].number, cases["H"].number])
    r = get(client, sup, f"{URL}kpi/on_time_rate/?{SEP_OCT}&met=0")
    assert "超期办结" in r.content.decode()  # the clock's label for D


@pytest.mark.parametrize("url,status", [
    ("kpi/nope/", 404), ("kpi/on_time_rate/?met=2", 400), ("kpi/on_time_rate/?page=abc", 400),
    ("kpi/on_time_rate/?page=0", 400), ("kpi/online_rate/?page=99999999999999999999", 400),
    ("kpi/online_rate/?page=%EF%BC%92", 400), ("kpi/online_rate/?page=1%00", 400), ("kpi/online_rate/?page=-1", 400),
])
def test_drill_down_bad_input(client, users, url, status):
    assert get(client, users["supervisor"], URL + url).status_code == status


def test_drill_down_pages_and_query_counts(client, users, world, django_assert_max_num_queries):  # noqa: F811
    item = world["items"][0]
    for i in range(45):
        world["case"](item, accepted="2026-09-14", decided="2026-09-15", deadline="2026-09-18", visits=i % 3)
    client.force_login(users["supervisor"])
    with django_assert_max_num_queries(12):
        r = client.get(f"{URL}kpi/on_time_rate/?{SEP_OCT}")
    assert r.status_code == 200 and len(r.context["rows"]) == 20 and r.context["page"].paginator.count == 49
    r = client.get(f"{URL}kpi/on_time_rate/?{SEP_OCT}&page=3")
    assert len(r.context["rows"]) == 9
    assert "page=2" in r.content.decode() and "from=2026-09" in r.content.decode()  # pager keeps the filters
    with django_assert_max_num_queries(25):
        assert client.get(f"{URL}?{SEP_OCT}").status_code == 200


def test_dashboard_query_count_does_not_grow_with_cases(client, users, world):  # noqa: F811
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(users["supervisor"])
    client.get(f"{URL}?{SEP_OCT}")  # warm-up: the working-day calendar may reload once after the cache was cleared
    with CaptureQueriesContext(connection) as first:
        client.get(f"{URL}?{SEP_OCT}")
    for i in range(30):
        world["case"](world["items"][5], channel="window", hall=world["halls"]["town"], accepted="2026-10-05",
                      decided="2026-10-06", deadline="2026-10-09")
    with CaptureQueriesContext(connection) as second:
        client.get(f"{URL}?{SEP_OCT}")
    a = [q["sql"][:120] for q in first.captured_queries]
    b = [q["sql"][:120] for q in second.captured_queries]
    assert len(b) <= len(a), "\n".join(["first:"] + a + ["second:"] + b)


# ------------------------------------------------------------------------------------------- export

def sheet_rows(response):
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(response.content))
    return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]


def test_export_the_kpi_table(client, users):
    r = get(client, users["supervisor"], f"{URL}?{SEP_OCT}&export=xlsx&table=kpis")
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    rows = sheet_rows(r)
    assert rows[0][:5] == ["指标", "数值", "单位", "分子", "分母"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["网上可办率"][1:5] == [62.5, "%", 5, 8]
    assert by_name["按时办结率"][1:5] == [75.0, "%", 3, 4]


@pytest.mark.parametrize("table,first", [("trend", ["2026-09", 2, 100.0]), ("departments", None), ("divisions", None), ("online", None)])
def test_export_other_tables(client, users, table, first):
    rows = sheet_rows(get(client, users["supervisor"], f"{URL}?{SEP_OCT}&export=xlsx&table={table}"))
    assert len(rows) >= 2
    if first:
        assert rows[1][:3] == first


def test_export_unknown_table_is_404(client, users):
    assert get(client, users["supervisor"], f"{URL}?export=xlsx&table=secrets").status_code == 404


def test_export_a_drill_down_list(client, users, world):  # noqa: F811
    rows = sheet_rows(get(client, users["supervisor"], f"{URL}kpi/on_time_rate/?{SEP_OCT}&met=0&export=xlsx"))
    assert rows[0][0] == "办件编号" and [r[0] for r in rows[1:]] == [world["cases"]["D"].number]
    rows = sheet_rows(get(client, users["supervisor"], f"{URL}kpi/online_rate/?met=0&export=xlsx"))
    assert rows[0][0] == "实施编码" and len(rows) == 4


def test_a_head_cannot_export_another_department(client, users, world):  # noqa: F811
    r = get(client, users["market_head"], f"{URL}?department={world['civil'].pk}&export=xlsx&table=kpis")
    assert r.status_code == 404


# ---------------------------------------------------------------------------------------------- API

API = "/api/v1/supervision/kpis"


def bearer(user):
    return {"Authorization": f"Bearer {auth.issue_token(user, '测试')}"}


def test_api_kpis_for_a_supervisor(client, users):
    r = client.get(f"{API}?{SEP_OCT}", headers=bearer(users["supervisor"]))
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["scope"], body["from_month"], body["to_month"]) == ("全市", "2026-09", "2026-10")
    k = {x["code"]: x for x in body["kpis"]}
    assert (k["online_rate"]["value"], k["online_rate"]["gap_2020"], k["online_rate"]["reached_2018"]) == (62.5, -37.5, True)
    assert (k["on_time_rate"]["value"], k["overdue_count"]["value"]) == (75.0, 1.0)


def test_api_scope_and_permissions(client, users, world):  # noqa: F811
    head = bearer(users["market_head"])
    r = client.get(API, headers=head)
    assert r.status_code == 200 and r.json()["department"] == world["market"].pk
    r = client.get(f"{API}?department={world['civil'].pk}", headers=head)
    assert r.status_code == 404 and r.json()["code"] == "department_not_found"
    r = client.get(API, headers=bearer(users["clerk"]))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = client.get(API, headers=bearer(users["citizen"]))
    assert r.status_code == 403
    assert client.get(API).status_code == 401


@pytest.mark.parametrize("query,code", [
    ("from=2026-13", "invalid_month"), ("from=2026-10&to=2026-09", "invalid_period"), ("region=abc", "invalid_region"),
    ("department=999999999999", "department_not_found"), ("department=1e9", "invalid_department"),
    ("to=2026-010", "invalid_request"), ("region=4408021234567", "invalid_request"),
])
def test_api_bad_filters(client, users, query, code):
    r = client.get(f"{API}?{query}", headers=bearer(users["supervisor"]))
    assert 400 <= r.status_code < 500 and r.json()["code"] == code, r.content


def test_open_cases_do_not_count_as_decided(client, users, world):  # noqa: F811
    Case.objects.filter(pk=world["cases"]["A"].pk).update(status=CaseStatus.IN_REVIEW, decided_on=None)
    r = client.get(f"{API}?{SEP_OCT}", headers=bearer(users["supervisor"]))
    k = {x["code"]: x for x in r.json()["kpis"]}
    assert (k["on_time_rate"]["numerator"], k["on_time_rate"]["denominator"]) == (2, 3)  # B, C of B, C, D

"""The plan tracker (T31): the plan's tasks loaded as data, progress reports, status and late flags,
KPI-linked targets, the pages, the one-page report (web and PDF) and the API.

Expected values are read off the plan (/work/shared/seed/000_5d99a1fc2f58bad1.txt, 二、工作任务) by hand.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.test import Client

from bianmin.core import services as auth
from bianmin.core.errors import PermissionDenied, ValidationError
from bianmin.core.models import AuditEntry
from bianmin.org.models import Department, Level, Role
from bianmin.supervision.tracker import selectors as tracker_read
from bianmin.supervision.tracker import report as tracker_report
from bianmin.supervision.tracker import services as tracker
from bianmin.supervision.models import PlanTask, PlanTaskReport
from tests.conftest import make_department, make_staff

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The plan lists tasks 1 to 30 under 二、工作任务 (counted by hand: 5 + 2 + 2 + 3 + 4 + 4 + 4 + 6 in its eight parts).
PLAN_TASK_COUNT = 30


@pytest.fixture
def units(departments, regions):
    """The fixture's departments plus those the tests need from the plan's unit names."""
    return {
        **departments,
        "zs": make_department("湛江市政务服务数据管理局", regions["city"]),
        "sf": make_department("湛江市司法局", regions["city"]),
        "chikan_gov": make_department("湛江市赤坎区人民政府", regions["chikan"], Level.COUNTY, kind=Department.Kind.GOVERNMENT),
    }


@pytest.fixture
def plan(units):
    tracker.load_plan_tasks()
    return {t.number: t for t in PlanTask.objects.all()}


@pytest.fixture
def people(units, staff):
    return {
        **staff,
        "zs_clerk": make_staff("zs_clerk", units["zs"], Role.REVIEWER),
        "sf_head": make_staff("sf_head", units["sf"], Role.APPROVER, is_head=True),
        "chikan_gov": make_staff("chikan_gov", units["chikan_gov"], Role.REVIEWER),
    }


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


def report(task, who, progress, text="进展", done=False, on: date | None = None):
    r = tracker.report_progress(task, who, progress, text, done)
    if on is not None:  # back-date the report (created_at is auto_now_add)
        PlanTaskReport.objects.filter(pk=r.pk).update(created_at=at(on))
    return r


# ----------------------------------------------------------------------------- loading

def test_loading_gives_the_plans_tasks_and_is_idempotent(units):
    first = tracker.load_plan_tasks()
    assert first == {"plan_tasks": PLAN_TASK_COUNT, "plan_tasks_updated": 0}
    assert PlanTask.objects.count() == PLAN_TASK_COUNT
    assert list(PlanTask.objects.values_list("number", flat=True)) == list(range(1, 31))
    audits = AuditEntry.objects.filter(action="plan_task.load").count()
    links = PlanTask.departments.through.objects.count()

    assert tracker.load_plan_tasks() == {"plan_tasks": 0, "plan_tasks_updated": 0}
    assert PlanTask.objects.count() == PLAN_TASK_COUNT
    assert PlanTask.departments.through.objects.count() == links
    assert AuditEntry.objects.filter(action="plan_task.load").count() == audits  # nothing changed, nothing logged

    # a task edited by hand is put back as the plan says
    PlanTask.objects.filter(number=9).update(deadline=date(2030, 1, 1))
    assert tracker.load_plan_tasks() == {"plan_tasks": 0, "plan_tasks_updated": 1}
    assert PlanTask.objects.get(number=9).deadline == date(2019, 6, 30)


def test_units_and_deadlines_as_in_the_plan(plan, units):
    t9 = plan[9]  # 9.实行证明事项清单管理制度 — 2019年6月底前 — 市司法局牵头
    assert t9.title == "实行证明事项清单管理制度"
    assert (t9.lead_units, t9.deadline_text, t9.deadline) == ("市司法局", "2019年6月底前", date(2019, 6, 30))
    assert t9.supporting_units == "市直各政务服务实施单位、各县(市、区)政府(管委会)"

    t17 = plan[17]  # 17.推进开办企业便利化 — 2018年底前
    assert t17.lead_units == "市市场监督管理局"
    assert t17.supporting_units == "市公安局、市税务局、人民银行湛江分行"
    assert (t17.deadline_text, t17.deadline) == ("2018年底前", date(2018, 12, 31))
    assert t17.target == "企业开办时间压缩至5个工作日内"
    # mapped to the departments the platform has: 市监 leads, 公安 supports (no 税务 or 人行 rows here)
    assert set(t17.lead_departments.all()) == {units["market"]}
    assert set(t17.departments.all()) == {units["market"], units["police"]}

    t22 = plan[22]
    assert (t22.lead_units, t22.deadline_text, t22.deadline) == ("市委编办、市民政局、市市场监督管理局", "2019年3月底前", date(2019, 3, 31))

    t1 = plan[1]
    assert t1.lead_units == "市政务服务数据管理局、市政府行政服务中心、各县(市、区)政府(管委会)"
    assert (t1.kpi, t1.kpi_target, t1.deadline) == ("immediate_rate", 50.0, date(2020, 12, 31))
    assert [m["date"] for m in t1.milestones] == ["2018-12-31", "2019-06-30", "2019-12-31", "2020-12-31"]
    # leads: 政数局 and the county government; supporting "市、县(市、区)两级政务服务实施单位": every city and county department
    assert set(t1.lead_departments.all()) == {units["zs"], units["chikan_gov"]}
    assert set(t1.departments.all()) == {units["zs"], units["chikan_gov"], units["market"], units["police"],
                                         units["chikan_civil"], units["sf"]}

    assert (plan[20].deadline_text, plan[20].deadline) == ("长期推进", None)
    assert plan[30].lead_units == ""  # the plan names no lead unit for task 30
    assert [n for n, t in plan.items() if t.kpi] == [1, 2, 3, 4]


# ----------------------------------------------------------------------------- status and late flag

def test_late_flag_on_hand_picked_dates(plan, people):
    t9 = plan[9]
    assert tracker_read.task_status(t9, date(2019, 6, 30)).status == "not_started"  # the deadline day itself is in time
    late = tracker_read.task_status(t9, date(2019, 7, 1))
    assert (late.status, late.reasons) == ("late", ["已过完成时限(2019-06-30)仍未完成"])

    report(t9, people["sf_head"], 50, "清单初稿已征求意见", on=date(2019, 5, 10))
    s = tracker_read.task_status(t9, date(2019, 6, 1))
    assert (s.status, s.progress) == ("in_progress", 50)
    assert tracker_read.task_status(t9, date(2019, 7, 1)).status == "late"

    report(t9, people["sf_head"], 100, "已公布保留证明事项清单", done=True, on=date(2019, 6, 20))
    assert tracker_read.task_status(t9, date(2019, 7, 1)).status == "done"
    # as of a day before the last report, that report does not count yet
    assert (tracker_read.task_status(t9, date(2019, 6, 15)).status, tracker_read.task_status(t9, date(2019, 6, 15)).progress) == ("in_progress", 50)

    assert tracker_read.task_status(plan[20], date(2035, 1, 1)).status == "ongoing"  # 长期推进: never late


def test_a_supporting_units_report_does_not_set_the_tasks_progress(plan, people):
    t17 = plan[17]
    r = report(t17, people["police_admin"], 100, "公安局公章刻制已并入开办企业一窗")
    assert r.by_lead is False
    assert tracker_read.task_status(t17, date(2018, 6, 1)).status == "not_started"
    report(t17, people["market_clerk"], 40, "名称自主申报已上线", on=date(2018, 5, 1))
    s = tracker_read.task_status(t17, date(2018, 6, 1))
    assert (s.status, s.progress, s.latest.department.name) == ("in_progress", 40, "湛江市市场监督管理局")


def test_without_a_lead_department_any_responsible_unit_leads(plan, people):
    t30 = plan[30]  # no lead unit named: the county government's report counts
    r = report(t30, people["chikan_gov"], 30, "开展智慧监管试点")
    assert r.by_lead is True
    assert tracker_read.task_status(t30).status == "ongoing"
    assert tracker_read.task_status(t30).progress == 30
    # task 11's lead (市委编办) is not on the platform: a supporting unit's report does not count, a supervisor's does
    assert report(plan[11], people["market_clerk"], 50, "内设机构调整中").by_lead is False
    assert tracker_read.task_status(plan[11]).progress is None
    assert report(plan[11], people["supervisor"], 60, "据市委编办报告").by_lead is True
    assert tracker_read.task_status(plan[11]).progress == 60


# ----------------------------------------------------------------------------- reports: validation and permissions

@pytest.mark.parametrize("progress, text, done, code", [
    (-1, "x", False, "invalid_progress"),
    (101, "x", False, "invalid_progress"),
    (10**12, "x", False, "invalid_progress"),
    ("abc", "x", False, "invalid_progress"),
    ("50.5", "x", False, "invalid_progress"),
    (True, "x", False, "invalid_progress"),
    (None, "x", False, "invalid_progress"),
    (50, "", False, "text_required"),
    (50, "   ", False, "text_required"),
    (50, None, False, "text_required"),
    (50, "字" * 2001, False, "text_too_long"),
    (90, "x", True, "done_requires_100"),
    (100, "x", "yes", "invalid_done"),
])
def test_report_validation(plan, people, progress, text, done, code):
    with pytest.raises(ValidationError) as exc:
        tracker.report_progress(plan[9], people["sf_head"], progress, text, done)
    assert exc.value.code == code
    assert PlanTaskReport.objects.count() == 0


def test_report_accepts_a_number_as_text_and_writes_an_audit_entry(plan, people):
    r = tracker.report_progress(plan[9], people["sf_head"], " 60 ", "  已完成初稿  ", False)
    assert (r.progress, r.text, r.by_lead, r.department_id) == (60, "已完成初稿", True, people["sf_head"].department_id)
    entry = AuditEntry.objects.filter(action="plan_task.report").get()
    assert entry.actor == "sf_head" and entry.data == {"task": 9, "progress": 60, "done": False, "by_lead": True}


def test_long_term_tasks_cannot_be_marked_done(plan, people):
    with pytest.raises(ValidationError) as exc:
        tracker.report_progress(plan[20], people["zs_clerk"], 100, "x", True)
    assert exc.value.code == "long_term_not_done"


def test_only_responsible_units_or_supervisors_report(plan, people):
    t7 = plan[7]  # 市委编办、市政务服务数据管理局牵头, nobody supports
    with pytest.raises(PermissionDenied) as exc:
        tracker.report_progress(t7, people["police_admin"], 10, "x")
    assert exc.value.code == "not_responsible"
    with pytest.raises(PermissionDenied):
        tracker.report_progress(t7, None, 10, "x")
    assert tracker.report_progress(t7, people["supervisor"], 10, "督查记录").by_lead is True
    assert tracker.report_progress(t7, people["zs_clerk"], 20, "建设中").by_lead is True


# ----------------------------------------------------------------------------- KPI-linked targets

def test_kpi_linked_task_shows_the_computed_value(plan, people, make_item, units):
    # 4 published items, 3 of them applicable online (online_level >= 3): 网上可办率 = 3/4 = 75%
    for level in (4, 3, 4, 1):
        make_item(online_level=level)
    t2 = plan[2]  # 网上可办率 100% by end-2020
    s = tracker_read.task_status(t2)
    assert (s.kpi.code, s.kpi.name, s.kpi.target, s.kpi.value) == ("online_rate", "网上可办率", 100.0, 75.0)
    assert (s.kpi.met, s.kpi.value_text, s.kpi.gap_text) == (False, "75%", "25%")
    assert (s.status, s.reasons) == ("late", ["已过完成时限(2020-12-31),网上可办率未达目标"])

    # a lead unit says done, but the platform's figure is short of the target: the figure decides
    report(t2, people["zs_clerk"], 100, "已全部上网", done=True)
    assert tracker_read.task_status(t2).status == "late"
    # the figure reaching the target makes the task done, with or without a report: 最多跑一次率 4/4 (max_visits 0)
    s4 = tracker_read.task_status(plan[4])
    assert (s4.kpi.value, s4.status, s4.reasons) == (100.0, "done", ["平台数据:最多跑一次率已达目标"])

    c = Client()
    c.force_login(people["supervisor"].user)
    page = c.get("/console/supervision/plan/").content.decode()
    assert "网上可办率:<strong class=\"plan-kpi-behind\">75%</strong> / 目标 100%(差 25%)" in page


def test_kpi_not_computable_says_so(plan, people):
    s = tracker_read.task_status(plan[3])  # 就近办率 with no items at all
    assert s.kpi.value is None and s.kpi.value_text == "指标尚未计算"
    c = Client()
    c.force_login(people["supervisor"].user)
    assert "指标尚未计算" in c.get("/console/supervision/plan/3/").content.decode()


# ----------------------------------------------------------------------------- pages

def _client(user=None, csrf=False):
    c = Client(enforce_csrf_checks=csrf)
    if user is not None:
        c.force_login(user)
    return c


def test_list_page_filters_and_query_count(plan, people, django_assert_max_num_queries):
    for n in (5, 6, 14):
        report(plan[n], people["zs_clerk"], 100, "完成", done=True)
    c = _client(people["market_clerk"].user)
    # session, user, staff, tasks, lead departments, latest reports, 4 KPIs (each in a savepoint inside the
    # test's transaction: 3 queries), 4 for the platform figures of tasks 5, 8, 9, my tasks, the filter's units
    with django_assert_max_num_queries(28) as first:
        r = c.get("/console/supervision/plan/")
    assert r.status_code == 200
    html = r.content.decode()
    assert html.count('<tr class="plan-row-') == PLAN_TASK_COUNT
    assert "17. 推进开办企业便利化" in html and "本单位" in html
    # more reports do not add queries
    for n in (8, 9, 10, 11):
        report(plan[n], people["supervisor"], 50, "推进中")
    with django_assert_max_num_queries(28) as second:
        c.get("/console/supervision/plan/")
    assert len(second.captured_queries) == len(first.captured_queries)

    done = c.get("/console/supervision/plan/?status=done").content.decode()
    assert done.count('<tr class="plan-row-done">') == 3
    ongoing = c.get("/console/supervision/plan/?status=ongoing").content.decode()
    assert ongoing.count('<tr class="plan-row-ongoing">') == 3  # tasks 20, 29, 30
    mine = c.get(f"/console/supervision/plan/?unit={people['market_clerk'].department_id}").content.decode()
    # 市市场监督管理局 is responsible for 1–6, 8–12, 14–17, 20–24, 26, 27 (named, or one of 市直/两级 units): 22 tasks
    assert mine.count('<tr class="plan-row-') == 22
    assert c.get("/console/supervision/plan/?unit=mine").content.decode().count('<tr class="plan-row-') == 22

    for bad in ("status=x", "unit=abc", "unit=99999999", "unit=-1", "on=2020-13-01", "on=x" * 50):
        r = c.get(f"/console/supervision/plan/?{bad}")
        assert r.status_code == 400, bad
        assert "alert-error" in r.content.decode()


def test_pages_access(plan, people):
    assert _client().get("/console/supervision/plan/").status_code == 302  # to the login page
    citizen = User.objects.create_user("citizen_x", password="x")
    assert _client(citizen).get("/console/supervision/plan/").status_code == 403
    c = _client(people["police_admin"].user)
    assert c.get("/console/supervision/plan/7/").status_code == 200
    assert "报送进展" not in c.get("/console/supervision/plan/7/").content.decode()  # no form for a non-responsible unit
    refused = c.post("/console/supervision/plan/7/report/", {"progress": "10", "text": "x"})
    assert refused.status_code == 403 and "只有该任务的责任单位或督查人员可以报送进展" in refused.content.decode()
    assert c.get("/console/supervision/plan/31/").status_code == 404
    assert c.get("/console/supervision/plan/99999999999/").status_code == 404
    assert c.get("/console/supervision/plan/report/").status_code == 403
    assert c.get("/console/supervision/plan/report.pdf").status_code == 403
    assert PlanTaskReport.objects.count() == 0


def test_report_form(plan, people):
    c = _client(people["sf_head"].user, csrf=True)
    page = c.get("/console/supervision/plan/9/")
    assert "报送进展" in page.content.decode()
    token = page.cookies["csrftoken"].value
    assert c.post("/console/supervision/plan/9/report/", {"progress": "60", "text": "x"}).status_code == 403  # no CSRF token
    bad = c.post("/console/supervision/plan/9/report/", {"progress": "90", "text": "清单已报市政府", "done": "1",
                                                         "csrfmiddlewaretoken": token})
    assert bad.status_code == 400
    assert "标记为已完成时,完成进度应为 100%" in bad.content.decode() and "清单已报市政府" in bad.content.decode()
    ok = c.post("/console/supervision/plan/9/report/", {"progress": "100", "text": "已公布清单", "done": "1",
                                                        "csrfmiddlewaretoken": token})
    assert ok.status_code == 302 and ok["Location"] == "/console/supervision/plan/9/#reports"
    detail = c.get("/console/supervision/plan/9/").content.decode()
    assert "已公布清单" in detail and "plan-status-done" in detail


def test_one_page_report_web_and_pdf(plan, people, make_item):
    make_item(online_level=4)
    make_item(online_level=1)  # 网上可办率 1/2 = 50%
    report(plan[9], people["sf_head"], 100, "已公布", done=True)
    c = _client(people["supervisor"].user)
    today = tracker.today()
    assert today > date(2020, 12, 31)
    html = c.get(f"/console/supervision/plan/report/?on={today:%Y-%m-%d}").content.decode()
    assert f"截至 {today.year}年{today.month}月{today.day}日 · 共 30 项任务" in html
    # today: 9 done by report, 4 done by the figure (最多跑一次率 2/2 = 100%); 20, 29, 30 long-term;
    # 2 is late by the figure (网上可办率 50%); 1 and 3 have no figure (no items for natural persons) and no
    # report, like every other task past its deadline: 30 - 2 - 3 = 25 late
    assert '<li class="plan-count-done"><span class="stat-label">已完成</span><strong class="stat-value">2</strong>' in html
    assert '<li class="plan-count-ongoing"><span class="stat-label">长期推进</span><strong class="stat-value">3</strong>' in html
    assert '<li class="plan-count-late"><span class="stat-label">逾期</span><strong class="stat-value">25</strong>' in html
    assert "二、逾期任务(25 项)" in html
    assert "50%" in html and "差 50%" in html

    # as of 2019-01-01 only the tasks due by end-2018 are late: 8, 14, 17, 18, 21, 26, 27; the report made
    # today does not count yet and the KPIs have no items then; 3 long-term; the other 20 not started
    past = c.get("/console/supervision/plan/report/?on=2019-01-01").content.decode()
    assert "二、逾期任务(7 项)" in past
    assert '<li class="plan-count-not_started"><span class="stat-label">未开始</span><strong class="stat-value">20</strong>' in past
    assert c.get("/console/supervision/plan/report/?on=2019-02-30").status_code == 400

    pdf = c.get(f"/console/supervision/plan/report.pdf?on={today:%Y-%m-%d}")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext 未安装")
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.content, capture_output=True, check=True).stdout.decode()
    flat = "".join(text.split())
    assert "湛江市深入推进审批服务便民化实施方案任务进展情况" in flat
    assert f"截至{today.year}年{today.month}月{today.day}日,共30项任务" in flat
    assert "二、逾期任务(25项)" in flat
    assert "网上可办率" in flat and "50%" in flat
    assert "推进开办企业便利化" in flat  # a late task, by name


def test_report_pdf_is_one_page_even_with_every_task_late(plan):
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo 未安装")
    s = tracker_read.summary()
    assert len(s.late) == PLAN_TASK_COUNT - 3  # no report, no figure: all but the three long-term tasks
    info = subprocess.run(["pdfinfo", "-"], input=tracker_report.report_pdf(s), capture_output=True, check=True).stdout.decode()
    assert [line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")] == ["1"]


# ----------------------------------------------------------------------------- API

def _api(user):
    token = auth.issue_token(user, "测试")
    return Client(headers={"Authorization": f"Bearer {token}"})


def _post(c, url, body):
    return c.post(url, json.dumps(body), content_type="application/json")


def test_api(plan, people, make_item):
    make_item(online_level=4)
    c = _api(people["sf_head"].user)
    r = c.get("/api/v1/plan/tasks")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == PLAN_TASK_COUNT
    t2 = body["results"][1]
    assert (t2["number"], t2["kpi"]["code"], t2["kpi"]["value"], t2["kpi"]["met"]) == (2, "online_rate", 100.0, True)
    assert (t2["status"], t2["reasons"]) == ("done", ["平台数据:网上可办率已达目标"])

    r = _post(c, "/api/v1/plan/tasks/9/reports", {"progress": 100, "text": "已公布保留证明事项清单", "done": True})
    assert r.status_code == 201, r.content
    assert (r.json()["progress"], r.json()["counts"], r.json()["department"]) == (100, True, "湛江市司法局")
    detail = c.get("/api/v1/plan/tasks/9").json()
    assert (detail["status"], detail["progress"], detail["may_report"]) == ("done", 100, True)
    assert detail["reports"][0]["text"] == "已公布保留证明事项清单" and detail["reports"][0]["reported_by"] == "sf_head"
    # done: 9 by report; 2 and 4 by the figures (one item, online and needing no visit: both 100%)
    assert [t["number"] for t in c.get("/api/v1/plan/tasks?status=done").json()["results"]] == [2, 4, 9]
    # 市司法局: named in 8, 9, 23, 29; a 市直 unit in 5, 6, 10–12, 14–16, 20–22, 24, 26; a 两级 unit in 1–4: 21 tasks
    assert c.get(f"/api/v1/plan/tasks?unit={people['sf_head'].department_id}").json()["count"] == 21

    cases = [
        (_post(c, "/api/v1/plan/tasks/7/reports", {"progress": 10, "text": "x"}), 403, "not_responsible"),
        (_post(c, "/api/v1/plan/tasks/9/reports", {"progress": 150, "text": "x"}), 400, "invalid_progress"),
        (_post(c, "/api/v1/plan/tasks/9/reports", {"progress": 90, "text": "x", "done": True}), 400, "done_requires_100"),
        (_post(c, "/api/v1/plan/tasks/9/reports", {"progress": 10, "text": " "}), 400, "text_required"),
        (_post(c, "/api/v1/plan/tasks/9/reports", {"progress": "abc", "text": "x"}), 422, "invalid_request"),
        (_post(c, "/api/v1/plan/tasks/9/reports", {"progress": 10, "text": "x", "extra": 1}), 422, "invalid_request"),
        (_post(c, "/api/v1/plan/tasks/9/reports", [1, 2]), 422, "invalid_request"),
        (_post(c, "/api/v1/plan/tasks/31/reports", {"progress": 10, "text": "x"}), 404, "plan_task_not_found"),
        (_post(c, "/api/v1/plan/tasks/99999999999/reports", {"progress": 10, "text": "x"}), 422, "invalid_request"),
        (c.get("/api/v1/plan/tasks/0"), 422, "invalid_request"),
        (c.get("/api/v1/plan/tasks/abc"), 422, "invalid_request"),
        (c.get("/api/v1/plan/tasks?status=x"), 400, "invalid_status"),
        (c.get("/api/v1/plan/tasks?unit=x"), 400, "invalid_unit"),
        (c.get("/api/v1/plan/tasks?unit=99999999"), 400, "invalid_unit"),
        (Client().get("/api/v1/plan/tasks"), 401, "unauthenticated"),
        (Client(headers={"Authorization": "Bearer nope"}).get("/api/v1/plan/tasks"), 401, "unauthenticated"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json()["code"]) == (status, code), response.content
    assert PlanTaskReport.objects.count() == 1

    citizen = User.objects.create_user("citizen_api", password="x")
    r = _api(citizen).get("/api/v1/plan/tasks")
    assert (r.status_code, r.json()["code"]) == (403, "staff_only")


def test_demo_loader_is_idempotent(units):
    from bianmin.supervision.tracker import demo as demo_tracker

    first = demo_tracker.load()
    assert first["改革任务"] == PLAN_TASK_COUNT
    assert first["任务进展"] == 0  # no demo staff in these departments
    make_staff("demo_supervisor", units["zs"], Role.SUPERVISOR)
    second = demo_tracker.load()
    assert second["改革任务"] == 0
    # the 政数局's demo reports (tasks 5, 6, 14, 15, 16, 20); 市监's two need a 市监 staff member, absent here
    assert second["任务进展"] == 6
    assert demo_tracker.load() == {"改革任务": 0, "任务进展": 0}


def test_a_failing_kpi_is_shown_as_not_computed(plan, people, make_item, monkeypatch):
    from bianmin.supervision.kpis import selectors as kpis

    make_item(online_level=4)

    def broken(code, **kw):
        raise RuntimeError("统计表不可用")

    monkeypatch.setattr(kpis, "value", broken)  # the failure cannot be produced by real data
    r = _client(people["supervisor"].user).get("/console/supervision/plan/2/")
    assert r.status_code == 200 and "指标尚未计算" in r.content.decode()


def test_platform_figures_beside_tasks_without_a_kpi(plan, people, make_item):
    from bianmin.catalog.models import CancelledProof, Proof

    make_item()  # published by 市市场监督管理局
    CancelledProof.objects.create(name="无犯罪记录证明(开办企业)", requesting_unit="市市场监督管理局",
                                  reason=CancelledProof.Reason.COMMITMENT, cancelled_on=date(2018, 11, 1))
    CancelledProof.objects.create(name="亲属关系证明", requesting_unit="市民政局",
                                  reason=CancelledProof.Reason.NO_LEGAL_BASIS, cancelled_on=date(2018, 12, 1))
    CancelledProof.objects.create(name="居住证明", requesting_unit="市公安局",
                                  reason=CancelledProof.Reason.NO_LEGAL_BASIS, cancelled_on=date(2018, 12, 2))
    Proof.objects.create(name="出生医学证明", legal_basis="《中华人民共和国母婴保健法》第二十三条",
                         requesting_unit="市公安局", issuing_unit="医疗机构")
    by_number = {s.task.number: s for s in tracker_read.task_statuses(PlanTask.objects.filter(number__in=[5, 8, 9, 10]))}
    # implementing units here: 市监, 公安, 赤坎区民政局, 政数局, 司法局 (the 赤坎区人民政府 is a government): 1 of 5 published
    assert by_number[5].evidence == "平台数据:1/5 个政务服务实施单位已发布事项目录"
    assert by_number[8].evidence == "平台数据:已登记取消证明事项 3 项,涉及六类取消理由中的 2 类"
    assert by_number[9].evidence == "平台数据:公布保留证明事项 1 项"
    assert by_number[10].evidence == ""
    assert by_number[8].status == "late"  # a figure informs; the lead unit's report decides
    html = _client(people["supervisor"].user).get("/console/supervision/plan/8/").content.decode()
    assert "已登记取消证明事项 3 项" in html

"""The staff console's case pages, driven through the test client: the window flow end to end, every
action form, who may open what, CSRF, and the query count of the lists. Dates are worked out by hand."""

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bianmin.cases import clock, console_views, services
from bianmin.cases.models import Applicant, Case, CaseMaterial, CaseStatus, ReviewTask, SupervisionHandover
from bianmin.catalog.models import RouteStep
from bianmin.core.identities import resident_id_with_check
from bianmin.org.models import Role, Window
from tests.conftest import make_staff

BASE = "/console/cases/"


@pytest.fixture
def item(make_item):
    return make_item(audience="both", statutory_days=20, promised_days=5, max_visits=1)


@pytest.fixture
def actors(people, departments, halls):
    town_window = Window.objects.create(hall=halls["town"], number="1", name="综合窗口", kind=Window.Kind.COMPREHENSIVE)
    return {
        **people,
        "supervisor": make_staff("supervisor", departments["market"], Role.SUPERVISOR),
        "town_clerk": make_staff("town_clerk", departments["chikan_civil"], Role.CLERK, hall=halls["town"], window=town_window),
    }


def as_user(client, user):
    client.force_login(user)
    return client


def all_at_window(item) -> dict:
    return {m.pk: {"at_window": True} for m in item.materials.all()}


def online(people, item) -> Case:
    return services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], materials=all_at_window(item))


def accepted(people, item) -> Case:
    return services.accept_case(online(people, item), actor=people["clerk"].user)


def act(client, case, action, **data):
    return client.post(f"{BASE}{case.number}/{action}/", data)


def reload(case) -> Case:
    return Case.objects.get(pk=case.pk)


# ------------------------------------------------------------------------------------------ the window flow

def test_window_flow_register_accept_review_decide_deliver(client, actors, item, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 2))  # Monday
    clerk = as_user(client, actors["clerk"].user)
    html = clerk.get(f"{BASE}new/", {"q": "食品经营"}).content.decode()
    assert f'href="?item={item.code}"' in html
    page = clerk.get(f"{BASE}new/", {"item": item.code})
    html = page.content.decode()
    assert page.status_code == 200
    for m in item.materials.all():
        assert f'name="material_{m.pk}"' in html
    id_number = resident_id_with_check("44080219800101001")
    form = {"item": item.code, "token": "t-1", "kind": "person", "id_number": id_number, "name": "王五", "phone": "13900000000",
            **{f"material_{m.pk}": "at_window" for m in item.materials.all()}}
    r = clerk.post(f"{BASE}new/", form)
    case = Case.objects.get()
    assert r.status_code == 302 and r["Location"] == f"{BASE}{case.number}/"
    assert (case.status, case.channel, case.hall_id, case.window_id) == (CaseStatus.SUBMITTED, "window", actors["clerk"].hall_id,
                                                                         actors["window"].pk)
    assert case.applicant.name == "王五" and case.applicant.id_number == id_number and case.applicant.user is None
    assert clerk.post(f"{BASE}new/", form).status_code == 302 and Case.objects.count() == 1  # double submit: one case

    html = clerk.get(r["Location"]).content.decode()
    assert "已登记王五的申请" in html and 'id="act-accept"' in html and "440802********1001"[:6] in html
    assert id_number not in html  # the resident ID is masked
    assert act(clerk, case, "accept").status_code == 302
    case = reload(case)
    assert case.status == CaseStatus.IN_REVIEW and case.promised_deadline == date(2026, 11, 9)  # Tue 3 … Mon 9 = 5 days

    reviewer = as_user(Client(), actors["reviewer"].user)
    html = reviewer.get(f"{BASE}tasks/").content.decode()
    assert case.number in html and "2026-11-09" in html
    task = case.tasks.get()
    assert act(reviewer, case, "complete_task", task=task.pk, opinion="材料齐全,符合条件").status_code == 302

    approver = as_user(Client(), actors["approver"].user)
    decide = case.tasks.get(state="active")
    html = approver.get(f"{BASE}{case.number}/").content.decode()
    assert f'id="act-decide-{decide.pk}"' in html
    assert act(approver, case, "decide", task=decide.pk, approved="yes", reasons="符合法定条件,准予许可").status_code == 302
    assert reload(case).status == CaseStatus.DECIDED

    assert act(clerk, case, "deliver", method="window").status_code == 302
    case = reload(case)
    assert case.status == CaseStatus.DELIVERED and case.delivery.hall_id == actors["clerk"].hall_id
    # registering at the window is the applicant's one visit, recorded with the submission
    assert [e.kind for e in case.events.all()] == ["submitted", "visit", "accepted", "task_completed", "decided", "delivered"]
    assert case.visit_count == 1 and not case.visits_exceeded
    html = clerk.get(f"{BASE}{case.number}/").content.decode()
    assert "按时办结" in html and "窗口领取" in html and "材料齐全,符合条件" in html
    assert 'class="console-timeline"' in html and html.count("<time ") == 6  # six events, six timestamps
    shanghai = case.events.last().at.astimezone(ZoneInfo("Asia/Shanghai"))  # stored in UTC, shown in Beijing time
    assert f'<time datetime="{shanghai:%Y-%m-%dT%H:%M:%S}' in html and f'+08:00">{shanghai:%Y-%m-%d %H:%M}</time>' in html


def test_register_shows_the_service_error_and_creates_nothing(client, actors, item):
    clerk = as_user(client, actors["clerk"].user)
    form = {"item": item.code, "token": "t-2", "kind": "person", "id_number": "440802198001010010", "name": "王五", "phone": "13600000000",
            **{f"material_{m.pk}": "at_window" for m in item.materials.all()}}
    r = clerk.post(f"{BASE}new/", form)
    html = r.content.decode()
    assert r.status_code == 400 and 'role="alert"' in html and 'href="#id_id_number"' in html and 'aria-invalid="true"' in html
    assert not Case.objects.exists() and not Applicant.objects.filter(name="王五").exists()
    # a required material not given: the applicant registered in the same attempt is rolled back too
    form.update(id_number=resident_id_with_check("44080219800101001"),
                **{f"material_{m.pk}": "none" for m in item.materials.filter(required=True)[:1]})
    r = clerk.post(f"{BASE}new/", form)
    assert r.status_code == 400 and "以下必要材料尚未提交" in r.content.decode()
    assert not Case.objects.exists() and not Applicant.objects.filter(name="王五").exists()


# ------------------------------------------------------------------------------------------ acceptance variants

def test_supplement_is_told_once_then_409(client, actors, item):
    case = online(actors, item)
    clerk = as_user(client, actors["clerk"].user)
    licence = case.materials.get(name="营业执照")
    assert act(clerk, case, "request_supplement", missing=[licence.pk], note="营业执照已过期").status_code == 302
    case = reload(case)
    assert case.status == CaseStatus.SUPPLEMENT and case.materials.get(pk=licence.pk).state == CaseMaterial.State.MISSING
    html = clerk.get(f"{BASE}{case.number}/").content.decode()
    assert 'id="act-submit_supplement"' in html and "营业执照已过期" in html
    assert case.number in clerk.get(f"{BASE}queue/").content.decode()  # still waiting in the queue
    assert act(clerk, case, "submit_supplement", **{f"received_{licence.pk}": "1"}).status_code == 302
    case = reload(case)
    assert case.status == CaseStatus.SUBMITTED
    assert 'id="act-request_supplement"' not in clerk.get(f"{BASE}{case.number}/").content.decode()  # not offered again
    r = act(clerk, case, "request_supplement", missing=[licence.pk])
    html = r.content.decode()
    assert r.status_code == 409 and 'role="alert"' in html and "已一次性告知补正内容,不得再次要求补正" in html
    assert reload(case).status == CaseStatus.SUBMITTED


def test_supplement_needs_a_ticked_material(client, actors, item):
    case = online(actors, item)
    r = act(as_user(client, actors["clerk"].user), case, "request_supplement", note="缺材料")
    assert r.status_code == 400 and "请勾选需要补正的全部材料" in r.content.decode()
    assert reload(case).status == CaseStatus.SUBMITTED


def test_accept_with_pending_materials(client, actors, item):
    case = online(actors, item)
    clerk = as_user(client, actors["clerk"].user)
    pending = case.materials.get(name="食品安全管理制度文本")  # pending_allowed in the fixture item
    licence = case.materials.get(name="营业执照")
    html = clerk.get(f"{BASE}{case.number}/").content.decode()
    assert f'id="pending-{pending.pk}"' in html and f'id="pending-{licence.pk}"' not in html  # only those allowed are offered
    r = act(clerk, case, "accept_with_pending", pending=[licence.pk])
    assert r.status_code == 400 and "以下材料不能容缺后补:营业执照" in r.content.decode()
    assert act(clerk, case, "accept_with_pending", pending=[pending.pk]).status_code == 302
    case = reload(case)
    assert case.status == CaseStatus.IN_REVIEW and case.materials.get(pk=pending.pk).state == CaseMaterial.State.PENDING
    html = clerk.get(f"{BASE}{case.number}/").content.decode()
    assert "容缺后补" in html and 'id="act-receive_pending"' in html
    assert act(clerk, case, "receive_pending", material=pending.pk).status_code == 302
    assert case.materials.get(pk=pending.pk).state == CaseMaterial.State.PROVIDED


def test_reject_needs_a_reason(client, actors, item):
    case = online(actors, item)
    clerk = as_user(client, actors["clerk"].user)
    r = act(clerk, case, "reject", reason="  ")
    assert r.status_code == 400 and "不予受理须说明理由" in r.content.decode()
    assert act(clerk, case, "reject", reason="不属于本机关职权范围").status_code == 302
    assert reload(case).status == CaseStatus.REJECTED


def test_immediate_item_in_one_click(client, actors, make_item):
    item = make_item(name="个体工商户名称自主申报", is_immediate=True, promised_days=0, audience="both")
    case = online(actors, item)
    clerk = as_user(client, actors["clerk"].user)
    html = clerk.get(f"{BASE}queue/").content.decode()
    assert case.number in html and "即办件" in html
    assert 'id="act-handle_immediately"' in clerk.get(f"{BASE}{case.number}/").content.decode()
    r = act(clerk, case, "handle_immediately")
    assert r.status_code == 302
    case = reload(case)
    assert case.status == CaseStatus.DELIVERED and case.accepted_on == case.decided_on
    assert "已送达" in clerk.get(r["Location"]).content.decode()


# ------------------------------------------------------------------------------------------ review

def test_parallel_review_with_two_departments(client, actors, item, departments):
    RouteStep.objects.create(item=item, stage=1, name="市场监管审查", role="reviewer")
    RouteStep.objects.create(item=item, stage=1, name="公安会签", role="reviewer", department=departments["police"])
    RouteStep.objects.create(item=item, stage=2, name="决定", role="approver")
    case = accepted(actors, item)
    market_task, police_task = case.tasks.order_by("id")
    reviewer = as_user(client, actors["reviewer"].user)
    police = as_user(Client(), actors["police_reviewer"].user)
    html = reviewer.get(f"{BASE}{case.number}/").content.decode()
    assert "并联审批" in html and "公安会签" in html
    assert f'id="act-complete_task-{market_task.pk}"' in html and f'id="act-complete_task-{police_task.pk}"' not in html
    assert case.number in police.get(f"{BASE}tasks/").content.decode()
    # the market reviewer cannot complete the police task, even by posting its id
    r = act(reviewer, case, "complete_task", task=police_task.pk, opinion="同意")
    assert r.status_code == 404 and "找不到该审查任务" in r.content.decode()
    assert act(reviewer, case, "complete_task", task=market_task.pk, opinion="同意").status_code == 302
    assert not case.tasks.filter(role="approver").exists()
    police_page = police.get(f"{BASE}{case.number}/")
    assert police_page.status_code == 200 and f'id="act-complete_task-{police_task.pk}"' in police_page.content.decode()
    assert act(police, case, "complete_task", task=police_task.pk, opinion="无违法犯罪记录,同意").status_code == 302
    assert case.tasks.filter(role="approver", state="active").count() == 1


def test_return_to_the_previous_stage(client, actors, item):
    case = accepted(actors, item)
    reviewer = as_user(client, actors["reviewer"].user)
    first = case.tasks.get()
    r = act(reviewer, case, "return_task", task=first.pk, reason="首环节")
    assert r.status_code == 409 and "这是第一个环节,不能再退回" in r.content.decode()
    act(reviewer, case, "complete_task", task=first.pk, opinion="同意")
    approver = as_user(Client(), actors["approver"].user)
    decide = case.tasks.get(state="active")
    r = act(approver, case, "return_task", task=decide.pk, reason="")
    assert r.status_code == 400 and "退回须说明理由" in r.content.decode()
    assert act(approver, case, "return_task", task=decide.pk, reason="现场核查记录缺页").status_code == 302
    assert list(case.tasks.filter(state="active").values_list("role", flat=True)) == ["reviewer"]
    assert "现场核查记录缺页" in reviewer.get(f"{BASE}{case.number}/").content.decode()


def test_decide_deny_needs_reasons(client, actors, item):
    case = accepted(actors, item)
    services.complete_task(case.tasks.get(), actor=actors["reviewer"].user, opinion="不符合条件")
    approver = as_user(client, actors["approver"].user)
    decide = case.tasks.get(state="active")
    r = act(approver, case, "decide", task=decide.pk, approved="no", reasons="不符合")
    assert r.status_code == 400 and "至少 10 个字" in r.content.decode()
    assert act(approver, case, "decide", task=decide.pk, approved="no",
               reasons="经营场所与食品品种不相适应,依据食品安全法第三十五条不予许可").status_code == 302
    case = reload(case)
    assert case.status == CaseStatus.DECIDED and case.approved is False
    assert not SupervisionHandover.objects.filter(case=case).exists()


def test_suspend_and_resume_move_the_deadline_shown(client, actors, item, monkeypatch):
    today = [date(2026, 11, 2)]  # Monday
    monkeypatch.setattr(clock, "today", lambda: today[0])
    case = accepted(actors, item)
    reviewer = as_user(client, actors["reviewer"].user)
    assert "2026-11-09" in reviewer.get(f"{BASE}{case.number}/").content.decode()
    today[0] = date(2026, 11, 4)
    r = act(reviewer, case, "suspend", kind="site_inspection", reason="需现场勘验经营场所", planned_days="3")
    assert r.status_code == 302
    html = reviewer.get(f"{BASE}{case.number}/").content.decode()
    assert "暂停计时" in html and "现场勘验" in html and "需现场勘验经营场所" in html and 'id="act-resume"' in html
    assert "剩 3 个工作日" in html  # 11-05, 11-06, 11-09 were left when it stopped
    today[0] = date(2026, 11, 6)  # Thu 5 and Fri 6 do not count
    assert act(reviewer, case, "resume").status_code == 302
    html = reviewer.get(f"{BASE}{case.number}/").content.decode()
    assert "2026-11-11" in html and "2026-11-09" not in html
    assert "剩 3 个工作日" in html  # Mon 9, Tue 10, Wed 11
    r = act(reviewer, case, "suspend", kind="hearing", reason="听证", planned_days="0")
    assert r.status_code == 400 and "计划时长应为 1 到 365 个工作日" in r.content.decode()


def test_extension_needs_the_approver(client, actors, item, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 2))
    case = accepted(actors, item)
    reviewer = as_user(client, actors["reviewer"].user)
    assert 'id="act-extend"' not in reviewer.get(f"{BASE}{case.number}/").content.decode()
    assert act(reviewer, case, "extend", days="2", reason="需要专家论证").status_code == 403
    approver = as_user(Client(), actors["approver"].user)
    assert act(approver, case, "extend", days="2", reason="需要补充调查").status_code == 302
    assert reload(case).promised_deadline == date(2026, 11, 11)
    r = act(approver, case, "extend", days="9", reason="再延长")
    assert r.status_code == 400 and "已延长 2 个" in r.content.decode()


def test_visits_flag(client, actors, item):
    case = online(actors, item)
    clerk = as_user(client, actors["clerk"].user)
    assert act(clerk, case, "record_visit", purpose="提交材料").status_code == 302
    assert "超过承诺跑动次数" not in clerk.get(f"{BASE}{case.number}/").content.decode()
    r = act(clerk, case, "record_visit", purpose="")
    assert r.status_code == 400 and "请填写到访事由" in r.content.decode()
    assert act(clerk, case, "record_visit", purpose="补交材料").status_code == 302
    html = clerk.get(f"{BASE}{case.number}/").content.decode()
    assert 'class="badge badge-flag">超过承诺跑动次数' in html and "已跑动 <strong>2</strong> 次" in html


def test_express_delivery_needs_address_and_tracking_number(client, actors, item):
    case = accepted(actors, item)
    services.complete_task(case.tasks.get(), actor=actors["reviewer"].user, opinion="同意")
    services.decide_case(case, actor=actors["approver"].user, approved=True, reasons="符合条件")
    clerk = as_user(client, actors["clerk"].user)
    r = act(clerk, case, "deliver", method="express", address="湛江市赤坎区中山一路1号")
    assert r.status_code == 400 and "邮寄送达须填写地址和快递单号" in r.content.decode()
    assert act(clerk, case, "deliver", method="express", address="湛江市赤坎区中山一路1号", tracking_number="SF123").status_code == 302
    case = reload(case)
    assert (case.delivery.method, case.delivery.tracking_number) == ("express", "SF123")


def test_handover_claim(client, actors, item):
    case = accepted(actors, item)
    services.complete_task(case.tasks.get(), actor=actors["reviewer"].user, opinion="同意")
    services.decide_case(case, actor=actors["approver"].user, approved=True, reasons="符合条件")
    handover = case.handover
    police = as_user(Client(), actors["police_reviewer"].user)
    assert case.number not in police.get(f"{BASE}handovers/").content.decode()
    assert police.post(f"{BASE}handovers/{handover.pk}/claim/", {"feedback": "x"}).status_code == 404
    reviewer = as_user(client, actors["reviewer"].user)
    html = reviewer.get(f"{BASE}handovers/").content.decode()
    assert case.number in html and f'action="{BASE}handovers/{handover.pk}/claim/"' in html
    assert reviewer.post(f"{BASE}handovers/{handover.pk}/claim/", {"feedback": "已纳入日常监管"}).status_code == 302
    handover.refresh_from_db()
    assert handover.claimed_by == actors["reviewer"] and handover.feedback == "已纳入日常监管"
    r = reviewer.post(f"{BASE}handovers/{handover.pk}/claim/", {"feedback": "again"})
    assert r.status_code == 409 and "该结果已被认领" in r.content.decode()


def test_all_cases_filters_by_clock(client, actors, item, monkeypatch):
    today = [date(2026, 11, 2)]
    monkeypatch.setattr(clock, "today", lambda: today[0])
    a = accepted(actors, item)  # promised 11-09
    today[0] = date(2026, 11, 5)
    b = accepted(actors, item)  # Fri 6, Mon 9, Tue 10, Wed 11, Thu 12: promised 11-12
    c = online(actors, item)    # not accepted
    today[0] = date(2026, 11, 10)  # a: 1 day over; b: 11, 12 left = 2 (warning)
    sup = as_user(client, actors["supervisor"].user)
    html = sup.get(BASE).content.decode()
    assert all(x.number in html for x in (a, b, c)) and "共 3 件" in html
    html = sup.get(BASE, {"clock": "overdue"}).content.decode()
    assert a.number in html and b.number not in html and c.number not in html and "超期" in html
    html = sup.get(BASE, {"clock": "warning"}).content.decode()
    assert b.number in html and a.number not in html and "剩 2 个工作日" in html
    html = sup.get(BASE, {"status": "submitted"}).content.decode()
    assert c.number in html and a.number not in html
    r = sup.get(BASE, {"status": "nonsense"})
    assert r.status_code == 400 and 'role="alert"' in r.content.decode()


# ------------------------------------------------------------------------------------------ who may open what

URLS = ["queue/", "new/", "tasks/", "handovers/", "", "{number}/"]
EXPECTED = {  # url -> status for applicant, clerk, reviewer, police reviewer, supervisor, clerk of another hall
    "queue/": (403, 200, 403, 403, 403, 200),
    "new/": (403, 200, 403, 403, 403, 200),
    "tasks/": (403, 403, 200, 200, 403, 403),
    "handovers/": (403, 200, 200, 200, 200, 200),
    "": (403, 403, 403, 403, 200, 403),
    "{number}/": (403, 200, 200, 404, 200, 404),
}
WHO = ["citizen_user", "clerk", "reviewer", "police_reviewer", "supervisor", "town_clerk"]


def _user(actors, who):
    x = actors[who]
    return x if isinstance(x, User) else x.user


def test_permission_matrix(actors, item):
    case = accepted(actors, item)  # accepted at the city hall, in the market department's review
    for url, statuses in EXPECTED.items():
        path = BASE + url.format(number=case.number)
        r = Client().get(path)
        assert r.status_code == 302 and r["Location"].startswith("/console/login/?next="), path
        for who, status in zip(WHO, statuses):
            assert as_user(Client(), _user(actors, who)).get(path).status_code == status, (path, who)


def test_actions_are_judged_by_the_services(actors, item):
    case = online(actors, item)
    path = f"{BASE}{case.number}/accept/"
    assert Client().post(path).status_code == 302
    expected = {"citizen_user": 403, "reviewer": 403, "police_reviewer": 404, "supervisor": 403, "town_clerk": 404}
    for who, status in expected.items():
        r = as_user(Client(), _user(actors, who)).post(path)
        assert r.status_code == status, who
    assert reload(case).status == CaseStatus.SUBMITTED and case.events.count() == 1
    assert as_user(Client(), actors["clerk"].user).get(path).status_code == 405  # POST only
    assert as_user(Client(), actors["clerk"].user).post(f"{BASE}{case.number}/nonsense/").status_code == 404
    assert as_user(Client(), actors["reviewer"].user).get(f"{BASE}4408-nope/").status_code == 404


def test_reviewer_does_not_see_acceptance_forms(client, actors, item):
    case = online(actors, item)
    html = as_user(client, actors["reviewer"].user).get(f"{BASE}{case.number}/").content.decode()
    assert 'id="act-accept"' not in html and 'id="act-reject"' not in html


def test_csrf_is_enforced(actors, item):
    case = online(actors, item)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(actors["clerk"].user)
    assert csrf_client.post(f"{BASE}{case.number}/accept/").status_code == 403
    assert reload(case).status == CaseStatus.SUBMITTED
    page = csrf_client.get(f"{BASE}{case.number}/")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else csrf_client.cookies["csrftoken"].value
    assert csrf_client.post(f"{BASE}{case.number}/accept/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert reload(case).status == CaseStatus.IN_REVIEW


def test_console_home_links_by_role(actors):
    for who, present, absent in (
        ("clerk", ["/console/cases/queue/", "/console/cases/new/", "/console/cases/handovers/"], ["/console/cases/tasks/", 'href="/console/cases/"']),
        ("reviewer", ["/console/cases/tasks/", "/console/cases/handovers/"], ["/console/cases/queue/", 'href="/console/cases/"']),
        ("supervisor", ['href="/console/cases/"', "/console/cases/handovers/"], ["/console/cases/queue/", "/console/cases/tasks/"]),
    ):
        html = as_user(Client(), _user(actors, who)).get("/console/").content.decode()
        for s in present:
            assert s in html, (who, s)
        for s in absent:
            assert s not in html, (who, s)


# ------------------------------------------------------------------------------------------ no N+1

def _count(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_task_list_and_queue_queries_do_not_grow(actors, item, django_assert_max_num_queries):
    reviewer = as_user(Client(), actors["reviewer"].user)
    clerk = as_user(Client(), actors["clerk"].user)
    accepted(actors, item)
    online(actors, item)
    one_task, one_queued = _count(reviewer, f"{BASE}tasks/"), _count(clerk, f"{BASE}queue/")
    for _ in range(29):
        accepted(actors, item)
        online(actors, item)
    assert ReviewTask.objects.filter(state="active").count() == 30
    with django_assert_max_num_queries(one_task):
        html = reviewer.get(f"{BASE}tasks/").content.decode()
    assert html.count('<tr class="row-') == 20 and "共 30 件" in html  # a page of 20
    with django_assert_max_num_queries(one_queued):
        html = clerk.get(f"{BASE}queue/").content.decode()
    assert "共 30 件待受理" in html
    assert one_task <= 8 and one_queued <= 9  # session, user, staff, count, page (+ materials for the queue)


# ------------------------------------------------------------------------------------------ scans (cases.files)

from tests.cases.test_files import tiny_png  # noqa: E402 - a real image: uploads are decoded

PNG = tiny_png()


def test_register_with_a_scan_and_a_refused_file(client, actors, item, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from bianmin.cases.models import UploadedFile

    settings.MEDIA_ROOT = tmp_path
    clerk = as_user(client, actors["clerk"].user)
    first, *rest = list(item.materials.all())
    form = {"item": item.code, "token": "t-3", "kind": "person", "id_number": resident_id_with_check("44080219800101001"),
            "name": "王五", "phone": "13600000000", f"material_{first.pk}": "upload", **{f"material_{m.pk}": "at_window" for m in rest}}
    r = clerk.post(f"{BASE}new/", {**form, f"file_{first.pk}": SimpleUploadedFile("申请书.pdf", b"not a pdf at all")})
    html = r.content.decode()
    assert r.status_code == 400 and 'role="alert"' in html and f'href="#id_file_{first.pk}"' in html and "以文件内容为准" in html
    assert not Case.objects.exists() and not UploadedFile.objects.exists()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # the refused file left nothing behind
    r = clerk.post(f"{BASE}new/", {**form, f"file_{first.pk}": SimpleUploadedFile("申请书.png", PNG)})
    assert r.status_code == 302
    case = Case.objects.get()
    cm = case.materials.get(material=first)
    assert cm.state == CaseMaterial.State.PROVIDED
    upload = cm.files.get()
    assert (upload.original_name, upload.content_type, upload.owner_id) == ("申请书.png", "image/png", case.applicant_id)
    assert "申请书.png" in clerk.get(r["Location"]).content.decode()
    again = clerk.post(f"{BASE}new/", {**form, f"file_{first.pk}": SimpleUploadedFile("申请书.png", PNG)})  # double click
    assert again["Location"] == r["Location"] and Case.objects.count() == 1 and UploadedFile.objects.count() == 1
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


def test_supplement_received_as_a_scan(client, actors, item, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    case = online(actors, item)
    clerk = as_user(client, actors["clerk"].user)
    licence = case.materials.get(name="营业执照")
    act(clerk, case, "request_supplement", missing=[licence.pk], note="营业执照已过期")
    r = clerk.post(f"{BASE}{case.number}/submit_supplement/", {f"scan_{licence.pk}": SimpleUploadedFile("执照.png", PNG)})
    assert r.status_code == 302
    assert reload(case).status == CaseStatus.SUBMITTED
    assert licence.files.get().original_name == "执照.png"


@pytest.mark.parametrize("status", ["submitted", "in_review"])
def test_tampered_forms_never_answer_5xx(actors, item, status):
    case = online(actors, item) if status == "submitted" else accepted(actors, item)
    garbage = {"task": "x", "pending": ["x", "-1"], "missing": ["abc"], "days": "1e9", "planned_days": "x", "material": "x",
               "approved": "maybe", "method": "drone", "kind": "<script>", "reason": "理由" * 2000, "opinion": "",
               "purpose": "", "received_1": "1"}
    for who in ("clerk", "reviewer", "approver"):
        c = as_user(Client(), actors[who].user)
        for action in console_views.CONSOLE_ACTIONS:
            r = c.post(f"{BASE}{case.number}/{action}/", garbage)
            assert r.status_code in (302, 400, 403, 404, 409), (who, action, r.status_code)
    assert as_user(Client(), actors["supervisor"].user).get(BASE, {"department": "x", "page": "-3"}).status_code == 400
    assert as_user(Client(), actors["clerk"].user).get(f"{BASE}queue/", {"page": "zz"}).status_code == 200
    assert as_user(Client(), actors["clerk"].user).get(f"{BASE}new/", {"item": "nope"}).status_code == 404

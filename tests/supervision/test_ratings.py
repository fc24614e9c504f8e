"""好差评: rating once after the case is finished, the 差评 lifecycle with due dates in working days
worked out by hand, appeals, permissions, the device API, the pages and the published figures."""

from datetime import date

import pytest
from django.test import Client

from bianmin.cases import services
from bianmin.core.services import issue_token
from bianmin.cases.models import Message
from bianmin.core import workdays
from bianmin.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from bianmin.supervision.models import Rating
from bianmin.supervision.ratings import selectors as ratings_read
from bianmin.supervision.ratings import services as ratings


@pytest.fixture
def item(make_item):
    return make_item(audience="both", statutory_days=20, promised_days=5)


@pytest.fixture
def today(monkeypatch):
    day = [date(2026, 9, 21)]
    monkeypatch.setattr(workdays, "today", lambda: day[0])

    class Today:
        def set(self, d):
            day[0] = d

    return Today()


@pytest.fixture
def finish(people, item, today):
    """finish(applicant="citizen", deliver=True) -> a case accepted, decided (and delivered) on 2026-09-21."""

    def _finish(applicant="citizen", deliver=True):
        case = services.submit_application(applicant=people[applicant], item=item, actor=people[f"{applicant}_user"],
                                           materials={m.pk: {"at_window": True} for m in item.materials.all()})
        case = services.accept_case(case, actor=people["clerk"].user)
        services.complete_task(case.tasks.get(), actor=people["reviewer"].user, opinion="符合条件")
        case = services.decide_case(case, actor=people["approver"].user, approved=True, reasons="符合条件,准予许可")
        if deliver:
            services.deliver_result(case, actor=people["clerk"].user, method="electronic")
            case.refresh_from_db()
        return case

    return _finish


def rate(people, case, score, **kw):
    return ratings.rate_online(people["citizen_user"], case.number, score=score, **kw)


# ----------------------------------------------------------------------------- the 差评 lifecycle

def test_bad_rating_is_rectified_within_five_working_days(people, finish, today):
    case = finish()
    today.set(date(2026, 9, 29))  # Tue
    r = rate(people, case, 2, indicators=["attitude", "efficiency"], comment="等了很久,窗口态度冷淡")
    # 5 working days from Tue 09-29: 09-30 (1), National Day 10-01…10-07, 10-08 (2), 10-09 (3),
    # Sat 10-10 make-up working day (4), Mon 10-12 (5)
    assert (r.state, r.rectify_due, r.department_id) == ("pending", date(2026, 10, 12), case.department_id)
    assert r.indicators == ["efficiency", "attitude"]  # the fixed order of the list
    head_msg = Message.objects.get(kind="rating_bad")
    assert head_msg.recipient == people["approver"].user  # the department head
    assert "2026年10月12日" in head_msg.body

    today.set(date(2026, 10, 12))  # the due date itself: on time
    assert not ratings_read.is_overdue(r)
    r = ratings.answer_rating(r.pk, actor=people["reviewer"].user, answer="已约谈窗口人员并增设取号提醒,感谢监督。")
    assert (r.state, r.rectified_late) == ("rectified", False)
    told = Message.objects.get(kind="rating_answered")
    assert told.recipient == people["citizen_user"] and "已约谈窗口人员" in told.body
    with pytest.raises(Conflict):
        ratings.answer_rating(r.pk, actor=people["reviewer"].user, answer="再次答复")


def test_a_late_answer_is_flagged(people, finish, today):
    case = finish()
    today.set(date(2026, 9, 29))
    r = rate(people, case, 1)
    today.set(date(2026, 10, 13))
    assert ratings_read.is_overdue(Rating.objects.get(pk=r.pk))
    r = ratings.answer_rating(r.pk, actor=people["approver"].user, answer="已整改")
    assert r.rectified_late is True


def test_the_due_date_follows_the_setting(people, finish, today, settings):
    settings.RATING_RECTIFY_WORKDAYS = 3
    case = finish()
    today.set(date(2026, 11, 13))  # Fri: Mon 16, Tue 17, Wed 18
    assert rate(people, case, 1).rectify_due == date(2026, 11, 18)


def test_good_ratings_need_nothing(people, finish):
    r = rate(people, finish(), 5, indicators=["one_visit"])
    assert (r.state, r.rectify_due) == ("closed", None)
    assert not Message.objects.filter(kind="rating_bad").exists()
    with pytest.raises(Conflict):
        ratings.answer_rating(r.pk, actor=people["reviewer"].user, answer="谢谢")


# ----------------------------------------------------------------------------- who may rate what

def test_rate_once_only_finished_only_own_only(people, finish, item):
    decided_not_delivered = finish(deliver=False)
    assert rate(people, decided_not_delivered, 4).state == "closed"  # 已办结 counts as finished
    case = finish()
    rate(people, case, 3)
    with pytest.raises(Conflict) as exc:
        rate(people, case, 1)
    assert exc.value.code == "already_rated"
    assert Rating.objects.get(case=case).score == 3

    open_case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                            materials={m.pk: {"at_window": True} for m in item.materials.all()})
    with pytest.raises(Conflict) as exc:
        rate(people, open_case, 5)
    assert exc.value.code == "case_not_finished"

    others = finish("other")
    with pytest.raises(NotFound):
        rate(people, others, 1)
    with pytest.raises(NotFound):
        ratings.rate_online(people["reviewer"].user, case.number, score=5)  # staff have no cases to rate


@pytest.mark.parametrize("score", [0, 6, -1, "x", "", None, True, 2.5, 10**20])
def test_bad_scores_are_refused(people, finish, score):
    case = finish()
    with pytest.raises(ValidationError) as exc:
        rate(people, case, score)
    assert exc.value.code == "invalid_score"
    assert not Rating.objects.exists()


@pytest.mark.parametrize("indicators", [["bogus"], ["efficiency", 3], [None], ["efficiency"] * 20])
def test_bad_indicators_are_refused(people, finish, indicators):
    with pytest.raises(ValidationError):
        rate(people, finish(), 1, indicators=indicators)
    assert not Rating.objects.exists()


def test_comment_limits_and_id_numbers_masked(people, finish):
    with pytest.raises(ValidationError):
        rate(people, finish(), 1, comment="长" * 501)
    r = rate(people, finish(), 1, comment="我的身份证 440802199001011234 被要求复印三次")
    assert "440802199001011234" not in r.comment and "4408" in r.comment


def test_other_departments_cannot_answer(people, finish, today, departments):
    r = rate(people, finish(), 1)
    for outsider in (people["police_reviewer"],):
        with pytest.raises(NotFound):
            ratings.answer_rating(r.pk, actor=outsider.user, answer="不是我们的")
    with pytest.raises(PermissionDenied):
        ratings.answer_rating(r.pk, actor=people["citizen_user"], answer="自己答复")
    with pytest.raises(ValidationError):
        ratings.answer_rating(r.pk, actor=people["reviewer"].user, answer="   ")
    assert Rating.objects.get(pk=r.pk).state == "pending"


# ----------------------------------------------------------------------------- appeals

def test_appeal_rejected_moves_the_due_date_by_the_time_under_review(people, finish, today, staff):
    case = finish()
    today.set(date(2026, 9, 29))
    r = rate(people, case, 1, comment="乱评")  # due Mon 10-12
    today.set(date(2026, 10, 9))  # Fri
    with pytest.raises(PermissionDenied):  # a reviewer who is not the head may not appeal
        ratings.appeal_rating(r.pk, actor=people["reviewer"].user, reason="恶意差评")
    with pytest.raises(NotFound):
        ratings.appeal_rating(r.pk, actor=people["police_reviewer"].user, reason="恶意差评")
    r = ratings.appeal_rating(r.pk, actor=people["approver"].user, reason="申请人因不符合条件被拒后恶意差评")
    assert r.state == "appealed"
    assert Message.objects.get(kind="rating_appeal").recipient == staff["supervisor"].user
    with pytest.raises(Conflict):
        ratings.answer_rating(r.pk, actor=people["reviewer"].user, answer="答复")
    with pytest.raises(PermissionDenied):
        ratings.decide_appeal(r.pk, actor=people["approver"].user, upheld=True, decision="自己批准")

    today.set(date(2026, 10, 14))  # Wed
    r = ratings.decide_appeal(r.pk, actor=staff["supervisor"].user, upheld=False, decision="评价内容属实,不属恶意差评")
    # under review from Fri 10-09 to Wed 10-14: Sat 10-10 (make-up), 10-12, 10-13, 10-14 = 4 working days;
    # due Mon 10-12 + 4 working days = 10-13, 10-14, 10-15, Fri 10-16
    assert (r.state, r.rectify_due) == ("pending", date(2026, 10, 16))
    assert Message.objects.filter(kind="rating_appeal_decided", recipient=people["approver"].user).exists()
    with pytest.raises(Conflict) as exc:
        ratings.appeal_rating(r.pk, actor=people["approver"].user, reason="再申诉")
    assert exc.value.code == "already_appealed"
    today.set(date(2026, 10, 16))
    assert ratings.answer_rating(r.pk, actor=people["reviewer"].user, answer="已整改").rectified_late is False


def test_upheld_appeal_leaves_the_statistics(people, finish, today, staff, departments):
    today.set(date(2026, 9, 29))
    scores = [5, 4, 2, 1, 1]
    rs = [rate(people, finish(), s) for s in scores]
    ratings.answer_rating(rs[2].pk, actor=people["reviewer"].user, answer="已整改")  # on time
    ratings.appeal_rating(rs[4].pk, actor=people["approver"].user, reason="恶意")
    ratings.decide_appeal(rs[4].pk, actor=staff["supervisor"].user, upheld=True, decision="经核实为恶意差评")
    assert Rating.objects.get(pk=rs[4].pk).state == "appeal_upheld"
    # rs[3] (score 1) still pending after its due date 10-12
    [row] = ratings_read.statistics("department", on=date(2026, 10, 13))
    assert row["name"] == departments["market"].name
    # 4 counted (5, 4, 2, 1), the upheld one excluded
    assert (row["total"], row["scores"], row["bad"], row["excluded"]) == (4, [1, 1, 0, 1, 1], 2, 1)
    assert row["bad_rate"] == 0.5 and row["bad_pct"] == "50%"
    # on time: 1 answered on time / (1 answered + 1 pending past its due date)
    assert (row["on_time"], row["late"], row["overdue"], row["on_time_rate"]) == (1, 0, 1, 0.5)
    assert row["satisfied_pct"] == "50%"


# ----------------------------------------------------------------------------- pages

def test_rating_page_and_case_page(client, people, finish, today):
    case = finish()
    client.force_login(people["citizen_user"])
    page = client.get(f"/my/cases/{case.number}/").content.decode()
    assert f'href="/my/cases/{case.number}/rate/"' in page
    r = client.get(f"/my/cases/{case.number}/rate/")
    assert r.status_code == 200 and "非常满意" in r.content.decode() and "办事效率" in r.content.decode()

    r = client.post(f"/my/cases/{case.number}/rate/", {"score": "9"})
    assert r.status_code == 400 and "请选择 1 到 5 的评价等级" in r.content.decode()
    r = client.post(f"/my/cases/{case.number}/rate/", {"score": "2", "indicators": ["nope"]})
    assert r.status_code == 400
    assert not Rating.objects.exists()

    r = client.post(f"/my/cases/{case.number}/rate/", {"score": "2", "indicators": ["attitude"], "comment": "态度不好"})
    assert r.status_code == 302 and r["Location"] == f"/my/cases/{case.number}/"
    r = client.post(f"/my/cases/{case.number}/rate/", {"score": "5"})
    assert r.status_code == 409

    rating = Rating.objects.get()
    ratings.answer_rating(rating.pk, actor=people["reviewer"].user, answer="已加强窗口服务培训")
    page = client.get(f"/my/cases/{case.number}/").content.decode()
    assert "已加强窗口服务培训" in page and "2 分 · 不满意" in page


def test_rating_page_permissions(people, finish):
    case = finish()
    anon = Client()
    r = anon.get(f"/my/cases/{case.number}/rate/")
    assert r.status_code == 302 and "/account/login/" in r["Location"]
    other = Client()
    other.force_login(people["other_user"])
    assert other.get(f"/my/cases/{case.number}/rate/").status_code == 404
    assert other.post(f"/my/cases/{case.number}/rate/", {"score": "1"}).status_code == 404
    staff = Client()
    staff.force_login(people["reviewer"].user)
    assert staff.get(f"/my/cases/{case.number}/rate/").status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people["citizen_user"])
    assert strict.post(f"/my/cases/{case.number}/rate/", {"score": "1"}).status_code == 403
    assert not Rating.objects.exists()


def test_public_statistics_page_has_no_personal_data(client, people, finish, halls, today, django_assert_max_num_queries):
    case = finish()
    rate(people, case, 1, comment="评价内容不公开")
    with django_assert_max_num_queries(3):
        r = client.get("/ratings/")
    html = r.content.decode()
    assert r.status_code == 200 and "湛江市市场监督管理局" in html and "100%" in html  # 差评率 1/1
    for secret in ("张三", people["citizen"].id_number, "13800000000", case.number, "评价内容不公开"):
        assert secret not in html
    assert client.get("/ratings/", {"by": "hall"}).status_code == 200
    assert client.get("/ratings/", {"by": "nope"}).status_code == 400


def test_console_list_and_answer(client, people, finish, today, staff, django_assert_max_num_queries):
    rs = [rate(people, finish(), s) for s in (1, 2, 5)]
    client.force_login(people["reviewer"].user)
    with django_assert_max_num_queries(10):
        r = client.get("/console/supervision/ratings/", {"bad": "1"})
    assert r.status_code == 200
    html = r.content.decode()
    assert html.count("/console/supervision/ratings/") >= 2 and "待整改" in html

    r = client.post(f"/console/supervision/ratings/{rs[0].pk}/answer/", {"answer": ""})
    assert r.status_code == 400 and "请填写整改答复" in r.content.decode()
    r = client.post(f"/console/supervision/ratings/{rs[0].pk}/answer/", {"answer": "已整改完毕"})
    assert r.status_code == 302
    assert Rating.objects.get(pk=rs[0].pk).state == "rectified"

    police = Client()
    police.force_login(people["police_reviewer"].user)
    assert police.get(f"/console/supervision/ratings/{rs[1].pk}/").status_code == 404
    assert police.post(f"/console/supervision/ratings/{rs[1].pk}/answer/", {"answer": "x"}).status_code == 404
    assert "没有符合条件的评价" in police.get("/console/supervision/ratings/").content.decode()
    assert client.get("/console/supervision/ratings/99999999999999999999/").status_code == 404
    assert client.post(f"/console/supervision/ratings/{rs[1].pk}/explode/").status_code == 404

    sup = Client()
    sup.force_login(staff["supervisor"].user)
    assert sup.get(f"/console/supervision/ratings/{rs[1].pk}/").status_code == 200  # supervisors see all


# ----------------------------------------------------------------------------- API

def test_api_rate_and_read(client, people, finish):
    case = finish()
    client.force_login(people["citizen_user"])
    url = f"/api/v1/cases/{case.number}/rating"
    assert client.get(url).status_code == 404
    for bad in ({"score": 0}, {"score": "5"}, {"score": 5, "indicators": ["bogus"]}, {"score": 5, "extra": 1}, [], "x"):
        r = client.post(url, bad, content_type="application/json")
        assert r.status_code in (400, 422), bad
        assert "code" in r.json()
    r = client.post(url, {"score": 1, "indicators": ["materials"], "comment": "材料太多"}, content_type="application/json")
    assert r.status_code == 201
    body = r.json()
    assert (body["score_label"], body["state"], body["indicator_labels"]) == ("非常不满意", "pending", ["材料精简"])
    assert client.post(url, {"score": 5}, content_type="application/json").status_code == 409
    # Mon 09-21 + 5 working days: 09-22, 09-23, 09-24, (Fri 09-25 Mid-Autumn Festival), Mon 09-28, Tue 09-29
    assert client.get(url).json()["rectify_due"] == "2026-09-29"

    other = Client()
    other.force_login(people["other_user"])
    assert other.get(url).status_code == 404
    assert other.post(url, {"score": 5}, content_type="application/json").status_code == 404
    assert Client().post(url, {"score": 5}, content_type="application/json").status_code == 401


def test_api_staff_answer_and_appeal_decision(client, people, finish, staff):
    r = rate(people, finish(), 1)
    police = Client()
    police.force_login(people["police_reviewer"].user)
    assert police.get("/api/v1/staff/ratings").json()["count"] == 0
    assert police.post(f"/api/v1/staff/ratings/{r.pk}/answer", {"answer": "x"}, content_type="application/json").status_code == 404

    head = Client()
    head.force_login(people["approver"].user)
    listed = head.get("/api/v1/staff/ratings", {"state": "pending"}).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == r.pk
    assert head.get("/api/v1/staff/ratings", {"state": "bogus"}).status_code == 400
    resp = head.post(f"/api/v1/staff/ratings/{r.pk}/appeal", {"reason": "恶意差评"}, content_type="application/json")
    assert resp.status_code == 200 and resp.json()["state"] == "appealed"

    sup = Client()
    sup.force_login(staff["supervisor"].user)
    url = f"/api/v1/staff/ratings/{r.pk}/appeal-decision"
    assert head.post(url, {"upheld": True, "decision": "x"}, content_type="application/json").status_code == 403
    resp = sup.post(url, {"upheld": True, "decision": "属恶意差评"}, content_type="application/json")
    assert resp.status_code == 200 and resp.json()["state"] == "appeal_upheld"
    assert sup.post("/api/v1/staff/ratings/99999999999999999999/answer", {"answer": "x"},
                    content_type="application/json").status_code == 422


def test_device_api(client, people, finish, halls):
    case = finish()
    device, token = ratings.issue_device_token(halls["city"], "一楼评价器")
    url = "/api/v1/ratings/device"
    good = {"case_number": case.number, "id_number": people["citizen"].id_number, "score": 4}
    assert client.post(url, good, content_type="application/json").status_code == 401
    assert client.post(url, good, content_type="application/json", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    personal = issue_token(people["citizen_user"], "手机")
    assert client.post(url, good, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {personal}").status_code == 401
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    wrong_id = dict(good, id_number=people["other"].id_number)
    r = client.post(url, wrong_id, content_type="application/json", **auth)
    assert r.status_code == 404 and r.json()["code"] == "case_not_found"
    r = client.post(url, dict(good, score=9), content_type="application/json", **auth)
    assert r.status_code == 422
    r = client.post(url, dict(good, id_number=" " + good["id_number"].lower()), content_type="application/json", **auth)
    assert r.status_code == 201 and r.json()["channel"] == "device"
    rating = Rating.objects.get()
    assert (rating.hall_id, rating.channel, rating.score) == (halls["city"].pk, "device", 4)
    assert client.post(url, good, content_type="application/json", **auth).status_code == 409
    device.revoked = True
    device.save()
    assert client.post(url, good, content_type="application/json", **auth).status_code == 401


def test_public_api_stats_and_indicators(client, people, finish):
    rate(people, finish(), 2)
    body = Client().get("/api/v1/ratings/stats").json()
    assert body["totals"]["total"] == 1 and body["results"][0]["bad"] == 1
    assert Client().get("/api/v1/ratings/stats", {"by": "x"}).status_code == 400
    codes = [i["code"] for i in Client().get("/api/v1/ratings/indicators").json()]
    assert codes[:3] == ["efficiency", "attitude", "one_visit"]


def test_demo_ratings_are_idempotent(people, finish, today, staff):
    from bianmin.supervision.ratings import demo as demo_ratings

    for _ in range(12):
        finish()
    first = demo_ratings.load()
    assert first["好差评"] > 0
    states = set(Rating.objects.filter(score__lte=2).values_list("state", flat=True))
    assert {"pending", "rectified"} <= states
    counts = Rating.objects.count(), Message.objects.count()
    assert demo_ratings.load()["好差评"] == 0
    assert (Rating.objects.count(), Message.objects.count()) == counts


@pytest.mark.parametrize("number", ["%00", "a%00b", "x" * 300, "%E4%B8%AD", "1'--"])
def test_odd_inputs_never_answer_500(people, number, halls):
    """NUL characters (PostgreSQL cannot compare them), long and odd case numbers, odd form values."""
    c = Client(raise_request_exception=False)
    c.force_login(people["citizen_user"])
    for r in (c.get(f"/my/cases/{number}/rate/"), c.post(f"/my/cases/{number}/rate/", {"score": "1"}),
              c.get(f"/api/v1/cases/{number}/rating"),
              c.post(f"/api/v1/cases/{number}/rating", {"score": 1}, content_type="application/json")):
        assert r.status_code in (400, 404, 422), (number, r.status_code)
    _, token = ratings.issue_device_token(halls["city"], "评价器")
    r = c.post("/api/v1/ratings/device", {"case_number": "a\x00", "id_number": "\x00", "score": 1},
               content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_characters")  # refused before any view (web/middleware.py)
    s = Client(raise_request_exception=False)
    s.force_login(people["reviewer"].user)
    for r in (s.get("/console/supervision/ratings/", {"state": "\x00"}),
              s.get("/console/supervision/alerts/", {"level": "\x00", "scope": "\x00"}),
              s.post("/console/supervision/ratings/1/answer/", {"answer": "\x00"}),
              s.get("/notices/overdue/", {"department": "\x00"}),
              s.post("/api/v1/staff/ratings/1/answer", {"answer": "a\x00"}, content_type="application/json"),
              s.get("/api/v1/staff/ratings", {"state": "\x00", "page": "\x00"})):
        assert 400 <= r.status_code < 500, r.status_code
    assert not Rating.objects.exists()

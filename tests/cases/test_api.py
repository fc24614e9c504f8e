"""The cases API: authentication (session with CSRF, bearer tokens), the applicant's and the staff's
endpoints, who sees what, idempotent submission, query counts, and junk input (4xx, never 5xx)."""

import itertools
import json
from datetime import date

import pytest
from django.test import Client

from bianmin.cases import clock, services
from bianmin.core import services as auth
from bianmin.cases.models import Case, CaseMaterial, CaseStatus, Message, ReviewTask, UploadedFile
from bianmin.core.models import ApiToken, AuditEntry

_files = itertools.count(1)


@pytest.fixture
def item(make_item):
    return make_item(audience="both", statutory_days=20, promised_days=5)


def upload(applicant, name="材料.pdf"):
    n = next(_files)
    return UploadedFile.objects.create(owner=applicant, original_name=name, content_type="application/pdf", size=1024,
                                       sha256=f"{n:064d}", path=f"test/{n:08d}.pdf")


def materials_body(item, applicant):
    return {str(m.pk): {"files": [upload(applicant).pk]} for m in item.materials.all()}


def at_window(item):
    return {m.pk: {"at_window": True} for m in item.materials.all()}


def submit(people, item, applicant=None, actor=None, **kw):
    return services.submit_application(applicant=applicant or people["citizen"], item=item, actor=actor or people["citizen_user"],
                                       materials=at_window(item), **kw)


def post(client, url, body=None, **headers):
    return client.post(url, json.dumps(body if body is not None else {}), content_type="application/json", headers=headers)


@pytest.fixture
def citizen(people):
    c = Client()
    c.force_login(people["citizen_user"])
    return c


def staff_client(people, who):
    c = Client()
    c.force_login(people[who].user)
    return c


@pytest.fixture
def clerk(people):
    return staff_client(people, "clerk")


@pytest.fixture
def reviewer(people):
    return staff_client(people, "reviewer")


@pytest.fixture
def approver(people):
    return staff_client(people, "approver")


# ----------------------------------------------------------------------------- authentication

def test_anonymous_gets_401_in_the_api_shape(client, db):
    for r in (client.get("/api/v1/cases"), post(client, "/api/v1/cases", {"item_code": "x"}), client.get("/api/v1/staff/queue")):
        assert r.status_code == 401
        assert r.json() == {"code": "unauthenticated", "message": "请先登录"}


def test_bearer_token(people, item):
    token = auth.issue_token(people["citizen_user"], "自助终端 1 号")
    row = ApiToken.objects.get()
    assert row.key_hash != token and len(row.key_hash) == 64 and row.last_used_at is None
    c = Client(enforce_csrf_checks=True)  # a token needs no CSRF token
    r = c.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    row.refresh_from_db()
    assert row.last_used_at is not None
    r = post(c, "/api/v1/cases", {"item_code": item.code, "materials": materials_body(item, people["citizen"])},
             Authorization=f"Bearer {token}")
    assert r.status_code == 201, r.content
    for bad in (f"Bearer {token}x", "Bearer ", f"Token {token}", "Bearer " + "a" * 5000):
        r = c.get("/api/v1/cases", headers={"Authorization": bad})
        assert (r.status_code, r.json()["code"]) == (401, "unauthenticated"), bad
    auth.revoke_token(row.pk, user=people["citizen_user"])
    assert c.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_personal_tokens_through_the_api(people, citizen):
    r = post(citizen, "/api/v1/tokens", {"name": "我的手机"})
    assert r.status_code == 201
    made = r.json()
    token = made.pop("token")
    assert made["name"] == "我的手机" and not made["revoked"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert Client().get("/api/v1/cases", headers=bearer).status_code == 200
    # a token cannot mint more tokens: only a logged-in session can
    r = post(Client(), "/api/v1/tokens", {"name": "x"}, **bearer)
    assert r.status_code == 401
    listed = Client().get("/api/v1/tokens", headers=bearer).json()
    assert [t["id"] for t in listed] == [made["id"]] and listed[0]["last_used_at"]
    other = Client()
    other.force_login(people["other_user"])
    assert post(other, f"/api/v1/tokens/{made['id']}/revoke").status_code == 404
    assert Client().get("/api/v1/cases", headers=bearer).status_code == 200
    r = post(Client(), f"/api/v1/tokens/{made['id']}/revoke", **bearer)
    assert r.status_code == 200 and r.json()["revoked"]
    assert Client().get("/api/v1/cases", headers=bearer).status_code == 401
    for bad in ({}, {"name": ""}, {"name": "x" * 101}, {"name": 5}):
        assert post(citizen, "/api/v1/tokens", bad).status_code == 422


def test_a_wrong_token_is_refused_even_with_a_session(citizen):
    r = citizen.get("/api/v1/cases", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_inactive_user_token_refused(people):
    token = auth.issue_token(people["citizen_user"], "手机")
    people["citizen_user"].is_active = False
    people["citizen_user"].save()
    assert Client().get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_session_posts_need_csrf(people, item):
    c = Client(enforce_csrf_checks=True)
    c.force_login(people["citizen_user"])
    assert c.get("/api/v1/cases").status_code == 200  # safe methods need no token
    body = {"item_code": item.code, "materials": materials_body(item, people["citizen"])}
    r = post(c, "/api/v1/cases", body)
    assert (r.status_code, r.json()["code"]) == (403, "csrf_failed")
    assert not Case.objects.exists()
    c.get("/console/login/")  # any page that sets the CSRF cookie
    csrf = c.cookies.get("csrftoken")
    if csrf is None:
        from django.middleware.csrf import _get_new_csrf_string

        csrf = _get_new_csrf_string()
        c.cookies["csrftoken"] = csrf
    r = post(c, "/api/v1/cases", body, **{"X-CSRFToken": csrf.value if hasattr(csrf, "value") else csrf})
    assert r.status_code == 201, r.content


# ----------------------------------------------------------------------------- applicants

def test_submit_is_idempotent_with_a_key(citizen, people, item):
    body = {"item_code": item.code, "form_data": {"经营场所": "赤坎区中山一路1号"}, "materials": materials_body(item, people["citizen"])}
    r1 = post(citizen, "/api/v1/cases", body, **{"Idempotency-Key": "req-42"})
    assert r1.status_code == 201, r1.content
    data = r1.json()
    assert data["status"] == "submitted" and data["clock"]["state"] == "not_started"
    # the answer is the case's summary; its detail (form, materials) is one GET away
    detail = citizen.get(data["url"]).json()
    # without a contact in the request, the applicant's name and phone on file are the contact
    assert detail["form_data"] == {"经营场所": "赤坎区中山一路1号", "contact_name": "张三", "contact_phone": "13800000000"}
    assert all(m["state"] == "provided" for m in detail["materials"])
    r2 = post(citizen, "/api/v1/cases", body, **{"Idempotency-Key": "req-42"})
    assert r2.status_code == 200 and r2.json()["number"] == data["number"]
    assert Case.objects.count() == 1
    # without a key, two posts are two applications
    body["materials"] = materials_body(item, people["citizen"])
    assert post(citizen, "/api/v1/cases", body).status_code == 201
    assert Case.objects.count() == 2


def test_idempotency_key_is_per_applicant(citizen, people, item):
    other = Client()
    other.force_login(people["other_user"])
    post(citizen, "/api/v1/cases", {"item_code": item.code, "materials": materials_body(item, people["citizen"])},
         **{"Idempotency-Key": "same"})
    r = post(other, "/api/v1/cases", {"item_code": item.code, "materials": materials_body(item, people["other"])},
             **{"Idempotency-Key": "same"})
    assert r.status_code == 201
    assert Case.objects.count() == 2


@pytest.mark.parametrize("key", ["", " ", "k" * 65, "a\tb"])
def test_bad_idempotency_key(citizen, people, item, key):
    r = post(citizen, "/api/v1/cases", {"item_code": item.code, "materials": materials_body(item, people["citizen"])},
             **{"Idempotency-Key": key})
    assert r.status_code == 400 and r.json()["code"] in ("invalid_idempotency_key",)


def test_application_form(citizen, item):
    r = citizen.get(f"/api/v1/apply/{item.code}")
    assert r.status_code == 200
    form = r.json()
    assert form["online"] and [m["name"] for m in form["materials"]] == ["食品经营许可申请书", "营业执照", "食品安全管理制度文本"]
    assert [m["id"] for m in form["materials"]] == list(item.materials.values_list("pk", flat=True))
    assert citizen.get("/api/v1/apply/NO-SUCH").json()["code"] == "item_not_found"


def test_upload_then_apply_then_download(people, item, citizen, clerk, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path / "files"
    from tests.cases.test_files import tiny_pdf

    pdf = tiny_pdf()
    ids = []
    for m in item.materials.all():
        r = citizen.post("/api/v1/uploads", {"file": SimpleUploadedFile(f"{m.name}.pdf", pdf, content_type="application/pdf")})
        assert r.status_code == 201, r.content
        ids.append(r.json()["id"])
    r = citizen.post("/api/v1/uploads", {"file": SimpleUploadedFile("假的.pdf", b"MZ\x90\x00 not a pdf")})
    assert (r.status_code, r.json()["code"]) == (400, "file_type_not_allowed")
    assert citizen.post("/api/v1/uploads", {}).status_code == 422
    assert clerk.post("/api/v1/uploads", {"file": SimpleUploadedFile("a.pdf", pdf)}).json()["code"] == "applicant_required"
    materials = {str(m.pk): {"files": [i]} for m, i in zip(item.materials.all(), ids)}
    r = post(citizen, "/api/v1/cases", {"item_code": item.code, "materials": materials})
    assert r.status_code == 201
    number = r.json()["number"]
    got = citizen.get(f"/api/v1/files/{ids[0]}")
    assert got.status_code == 200 and b"".join(got.streaming_content) == pdf
    other = Client()
    other.force_login(people["other_user"])
    for fid in (str(ids[0]), "999999", "abc", "9" * 40):
        r = other.get(f"/api/v1/files/{fid}")
        assert (r.status_code, r.json()["code"]) == (404, "file_not_found")
    assert clerk.get(f"/api/v1/files/{ids[0]}").status_code == 200  # the clerk who takes the case in may see it
    assert staff_client(people, "police_reviewer").get(f"/api/v1/files/{ids[0]}").status_code == 404
    assert Case.objects.get(number=number).materials.filter(files__isnull=False).count() == 3


def test_submit_errors(citizen, people, item, make_item):
    r = post(citizen, "/api/v1/cases", {"item_code": "NO-SUCH"})
    assert (r.status_code, r.json()["code"]) == (404, "item_not_found")
    r = post(citizen, "/api/v1/cases", {"item_code": item.code})
    assert (r.status_code, r.json()["code"]) == (400, "materials_missing")
    assert "营业执照" in r.json()["message"]
    not_online = make_item(audience="both", online_level=2)
    r = post(citizen, "/api/v1/cases", {"item_code": not_online.code, "materials": materials_body(not_online, people["citizen"])})
    assert (r.status_code, r.json()["code"]) == (400, "item_not_online")
    theirs = upload(people["other"])  # someone else's file id
    body = materials_body(item, people["citizen"])
    first = next(iter(body))
    body[first] = {"files": [theirs.pk]}
    r = post(citizen, "/api/v1/cases", {"item_code": item.code, "materials": body})
    assert (r.status_code, r.json()["code"]) == (404, "file_not_found")
    r = post(citizen, "/api/v1/cases", {"item_code": item.code, "materials": {"999999": {"files": []}}})
    assert (r.status_code, r.json()["code"]) == (400, "unknown_material")
    body = materials_body(item, people["citizen"])
    first, second = list(body)[:2]
    body[second] = {"files": body[first]["files"]}  # one file given for two materials
    r = post(citizen, "/api/v1/cases", {"item_code": item.code, "materials": body})
    assert (r.status_code, r.json()["code"]) == (400, "file_used_twice")
    assert "同一个文件" in r.json()["message"]
    assert not Case.objects.exists() and not UploadedFile.objects.filter(case_material__isnull=False).exists()


def test_staff_cannot_apply_and_applicants_cannot_use_staff_endpoints(people, item, clerk, citizen):
    r = post(clerk, "/api/v1/cases", {"item_code": item.code})
    assert (r.status_code, r.json()["code"]) == (403, "applicant_required")
    case = submit(people, item)
    for url in ("/api/v1/staff/queue", "/api/v1/staff/tasks", "/api/v1/staff/handovers", f"/api/v1/staff/cases/{case.number}"):
        r = citizen.get(url)
        assert (r.status_code, r.json()["code"]) == (403, "staff_only"), url
    r = post(citizen, f"/api/v1/staff/cases/{case.number}/accept")
    assert (r.status_code, r.json()["code"]) == (403, "staff_only")


def test_an_applicant_sees_only_their_own_cases(people, item, citizen):
    mine = submit(people, item)
    theirs = submit(people, item, applicant=people["other"], actor=people["other_user"])
    r = citizen.get("/api/v1/cases")
    assert [c["number"] for c in r.json()["results"]] == [mine.number]
    for url in (f"/api/v1/cases/{theirs.number}", f"/api/v1/cases/{theirs.number}/events",
                f"/api/v1/cases/{theirs.number}/decision.pdf", "/api/v1/cases/440800-20990101-000001", "/api/v1/cases/" + "9" * 500):
        r = citizen.get(url)
        assert (r.status_code, r.json()["code"]) == (404, "case_not_found"), url
    for action, body in (("withdraw", {}), ("supplement", {"files": {}})):
        r = post(citizen, f"/api/v1/cases/{theirs.number}/{action}", body)
        assert (r.status_code, r.json()["code"]) == (404, "case_not_found")
    theirs.refresh_from_db()
    assert theirs.status == CaseStatus.SUBMITTED


def test_detail_events_and_withdraw(people, item, citizen):
    case = submit(people, item)
    r = citizen.get(f"/api/v1/cases/{case.number}")
    assert r.status_code == 200
    d = r.json()
    assert d["asks"] == {"missing_materials": [], "pending_materials": [], "can_withdraw": True, "can_supplement": False}
    assert d["decision_letter"] is None and d["item_name"] == item.name
    events = citizen.get(f"/api/v1/cases/{case.number}/events").json()
    assert [e["kind"] for e in events] == ["submitted"]
    r = post(citizen, f"/api/v1/cases/{case.number}/withdraw", {"reason": "不需要了"})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    r = post(citizen, f"/api/v1/cases/{case.number}/withdraw", {})
    assert (r.status_code, r.json()["code"]) == (409, "illegal_transition")


def test_supplement_round_trip(people, item, citizen, clerk):
    case = submit(people, item)
    licence = case.materials.get(name="营业执照")
    r = post(clerk, f"/api/v1/staff/cases/{case.number}/supplement-request", {"missing_ids": [licence.pk], "note": "已过期"})
    assert r.status_code == 200 and r.json()["status"] == "supplement"
    d = citizen.get(f"/api/v1/cases/{case.number}").json()
    assert d["asks"]["missing_materials"] == ["营业执照"] and d["asks"]["can_supplement"]
    r = post(citizen, f"/api/v1/cases/{case.number}/supplement", {"files": {str(licence.pk): []}})
    assert (r.status_code, r.json()["code"]) == (400, "materials_missing")
    f = upload(people["citizen"], "营业执照.pdf")
    r = post(citizen, f"/api/v1/cases/{case.number}/supplement", {"files": {str(licence.pk): [f.pk]}})
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    d = citizen.get(f"/api/v1/cases/{case.number}").json()
    assert [x["files"] for x in d["materials"] if x["name"] == "营业执照"] == [[{"id": f.pk, "name": "营业执照.pdf",
                                                                              "content_type": "application/pdf", "size": 1024}]]


# ----------------------------------------------------------------------------- staff: the whole life

def test_whole_life_through_the_api(people, item, citizen, clerk, reviewer, approver, monkeypatch, departments,
                                    django_capture_on_commit_callbacks):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 9, 28))  # Monday
    with django_capture_on_commit_callbacks(execute=True):
        number = _whole_life(people, item, citizen, clerk, reviewer, approver)
    # the applicant was told, in the inbox (after each commit)
    inbox = citizen.get("/api/v1/messages").json()
    assert [m["kind"] for m in inbox["results"]] == ["delivered", "decided", "accepted"]  # newest first; no pick-up: online
    assert inbox["unread"] == inbox["count"] == 3 and inbox["results"][0]["case_number"] == number


def _whole_life(people, item, citizen, clerk, reviewer, approver):
    r = post(citizen, "/api/v1/cases", {"item_code": item.code, "materials": materials_body(item, people["citizen"])},
             **{"Idempotency-Key": "life"})
    number = r.json()["number"]
    queue = clerk.get("/api/v1/staff/queue").json()
    assert [c["number"] for c in queue["results"]] == [number] and queue["results"][0]["applicant"] == "张三"
    r = post(clerk, f"/api/v1/staff/cases/{number}/accept", {"pending_material_ids": []})
    assert r.status_code == 200, r.content
    c = r.json()["clock"]
    assert c["promised_deadline"] == "2026-10-10" and c["state"] == "on_time"  # worked out in test_flow
    case = Case.objects.get(number=number)
    assert c == {"state": "on_time", "label": "正常", "promised_deadline": "2026-10-10",
                 "statutory_deadline": clock.clock(case).statutory_deadline.isoformat(), "remaining": clock.clock(case).remaining,
                 "provisional": False}
    assert clerk.get("/api/v1/staff/queue").json()["count"] == 0
    tasks = reviewer.get("/api/v1/staff/tasks").json()
    assert tasks["count"] == 1 and tasks["results"][0]["case"]["number"] == number
    task_id = tasks["results"][0]["id"]
    r = post(approver, f"/api/v1/staff/cases/{number}/tasks/{task_id}/complete", {"opinion": "同意"})
    assert (r.status_code, r.json()["code"]) == (403, "role_not_allowed")
    r = post(reviewer, f"/api/v1/staff/cases/{number}/tasks/{task_id}/complete", {"opinion": "材料齐全"})
    assert r.status_code == 200
    r = post(reviewer, f"/api/v1/staff/cases/{number}/tasks/{task_id}/complete", {"opinion": "再来"})
    assert (r.status_code, r.json()["code"]) == (409, "task_not_active")
    approve_id = approver.get("/api/v1/staff/tasks").json()["results"][0]["id"]
    r = post(approver, f"/api/v1/staff/cases/{number}/tasks/{approve_id}/return", {"reason": "现场核查记录缺页"})
    assert r.status_code == 200
    task_id = reviewer.get("/api/v1/staff/tasks").json()["results"][0]["id"]
    post(reviewer, f"/api/v1/staff/cases/{number}/tasks/{task_id}/complete", {"opinion": "已补查"})
    r = post(approver, f"/api/v1/staff/cases/{number}/suspend", {"kind": "expert_review", "reason": "专家评审", "planned_days": 3})
    assert r.status_code == 200 and r.json()["clock"]["state"] == "paused"
    r = post(approver, f"/api/v1/staff/cases/{number}/resume")
    assert r.status_code == 200 and r.json()["status"] == "in_review"
    r = post(approver, f"/api/v1/staff/cases/{number}/extend", {"days": 3, "reason": "需补充调查"})
    assert r.status_code == 200 and r.json()["clock"]["promised_deadline"] > "2026-10-10"
    r = post(approver, f"/api/v1/staff/cases/{number}/decide", {"approved": True, "reasons": "符合《食品安全法》规定的条件"})
    assert r.status_code == 200 and r.json()["status"] == "decided" and r.json()["clock"]["state"] == "finished"
    r = post(clerk, f"/api/v1/staff/cases/{number}/visits", {"purpose": "领取许可证"})
    assert r.status_code == 200 and r.json()["visit_count"] == 1 and r.json()["visits_exceeded"]  # item promises 0 visits
    r = post(clerk, f"/api/v1/staff/cases/{number}/deliver", {"method": "express", "address": "湛江市赤坎区中山一路1号",
                                                             "tracking_number": "SF1234567890"})
    assert r.status_code == 200 and r.json()["status"] == "delivered"
    d = staff_client(people, "approver").get(f"/api/v1/staff/cases/{number}").json()
    assert [e["kind"] for e in d["events"]] == ["submitted", "accepted", "task_completed", "returned", "task_completed",
                                                "suspended", "resumed", "extended", "decided", "visit", "delivered"]
    assert d["applicant"]["id_number"].count("*") == 8 and "1990" not in d["applicant"]["id_number"]
    assert d["delivery"]["tracking_number"] == "SF1234567890" and d["stops"][0]["kind"] == "expert_review"
    mine = citizen.get(f"/api/v1/cases/{number}").json()
    assert "opinion" not in mine["stages"][0]  # internal opinions stay inside
    assert mine["decision_letter"] == f"/api/v1/cases/{number}/decision.pdf"
    pdf = citizen.get(mine["decision_letter"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert approver.get(f"/api/v1/staff/cases/{number}/decision.pdf").content.startswith(b"%PDF")
    # 谁审批谁监管: the supervising department claims the result
    handovers = approver.get("/api/v1/staff/handovers").json()
    assert handovers["count"] == 1 and handovers["results"][0]["claimed_at"] is None
    hid = handovers["results"][0]["id"]
    police = Client()
    police.force_login(people["police_reviewer"].user)
    assert post(police, f"/api/v1/staff/handovers/{hid}/claim").status_code == 404
    r = post(approver, f"/api/v1/staff/handovers/{hid}/claim", {"feedback": "已纳入日常监管"})
    assert r.status_code == 200 and r.json()["claimed_at"]
    r = post(approver, f"/api/v1/staff/handovers/{hid}/claim", {})
    assert (r.status_code, r.json()["code"]) == (409, "already_claimed")
    return number


def test_messages_read(people, item, citizen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.accept_case(submit(people, item), actor=people["clerk"].user)
    inbox = citizen.get("/api/v1/messages").json()
    assert inbox["unread"] == 1
    first = inbox["results"][0]
    r = post(citizen, f"/api/v1/messages/{first['id']}/read")
    assert r.status_code == 200 and r.json()["read"]
    assert citizen.get("/api/v1/messages").json()["unread"] == inbox["unread"] - 1
    read = AuditEntry.objects.filter(action="message.read")
    assert [(e.object_id, e.data["messages"]) for e in read] == [(str(first["id"]), [first["id"]])]
    assert post(citizen, f"/api/v1/messages/{first['id']}/read").json()["read"]  # again: already read, no second entry
    other = Client()
    other.force_login(people["other_user"])
    r = post(other, f"/api/v1/messages/{first['id']}/read")
    assert r.status_code == 404 and r.json()["code"] == "message_not_found"
    assert read.count() == 1


def test_staff_receive_pending_material(people, item, clerk, reviewer):
    """容缺后补 through the API (the route the ACTIONS table names for receive_pending)."""
    case = submit(people, item)
    pending = case.materials.get(name="食品安全管理制度文本")  # pending_allowed in the fixture
    services.accept_case(case, actor=people["clerk"].user, pending_material_ids=[pending.pk])
    other = case.materials.get(name="营业执照")
    r = post(clerk, f"/api/v1/staff/cases/{case.number}/pending/{other.pk}")  # not a pending material
    assert r.status_code == 404 and r.json()["code"] == "not_pending"
    r = post(clerk, f"/api/v1/staff/cases/{case.number}/pending/{pending.pk}", {"file_ids": ["x"]})
    assert r.status_code == 422
    r = post(clerk, f"/api/v1/staff/cases/{case.number}/pending/{pending.pk}")  # the original seen at the window
    assert r.status_code == 200 and r.json()["status"] == "in_review"
    pending.refresh_from_db()
    assert pending.state == CaseMaterial.State.PROVIDED
    assert case.events.last().kind == "pending_received"
    r = post(clerk, f"/api/v1/staff/cases/{case.number}/pending/{pending.pk}")  # twice: nothing pending any more
    assert r.status_code == 404 and r.json()["code"] == "not_pending"


def test_reject_and_immediate(people, item, make_item, clerk, citizen):
    case = submit(people, item)
    r = post(clerk, f"/api/v1/staff/cases/{case.number}/reject", {"reason": " "})
    assert (r.status_code, r.json()["code"]) == (400, "reason_required")
    r = post(clerk, f"/api/v1/staff/cases/{case.number}/reject", {"reason": "不属于本机关职权范围"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert citizen.get(f"/api/v1/cases/{case.number}").json()["rejection_reason"] == "不属于本机关职权范围"
    quick = make_item(name="个体工商户名称自主申报", is_immediate=True, promised_days=0, audience="both")
    case = submit(people, quick, channel="window")
    r = post(clerk, f"/api/v1/staff/cases/{case.number}/immediate", {})
    assert r.status_code == 200 and r.json()["status"] == "delivered"
    r = post(clerk, f"/api/v1/staff/cases/{submit(people, item).number}/immediate", {})
    assert (r.status_code, r.json()["code"]) == (400, "not_immediate")


def test_staff_see_only_their_department(people, item, reviewer):
    case = services.accept_case(submit(people, item), actor=people["clerk"].user)
    police = staff_client(people, "police_reviewer")
    assert police.get(f"/api/v1/staff/cases/{case.number}").status_code == 404
    assert police.get("/api/v1/staff/tasks").json()["count"] == 0
    task = case.tasks.get()
    r = post(police, f"/api/v1/staff/cases/{case.number}/tasks/{task.pk}/complete", {"opinion": "同意"})
    assert (r.status_code, r.json()["code"]) == (404, "case_not_found")
    r = post(police, f"/api/v1/staff/cases/{case.number}/suspend", {"kind": "testing", "reason": "检测", "planned_days": 2})
    assert r.status_code == 404
    # a task id of another case through this case's URL
    other = services.accept_case(submit(people, item), actor=people["clerk"].user)
    r = post(reviewer, f"/api/v1/staff/cases/{case.number}/tasks/{other.tasks.get().pk}/complete", {"opinion": "同意"})
    assert (r.status_code, r.json()["code"]) == (404, "task_not_found")
    assert reviewer.get(f"/api/v1/staff/cases/{case.number}").status_code == 200


def test_pdf_before_decision_is_a_conflict(people, item, citizen):
    case = submit(people, item)
    r = citizen.get(f"/api/v1/cases/{case.number}/decision.pdf")
    assert (r.status_code, r.json()["code"]) == (409, "not_decided")


# ----------------------------------------------------------------------------- query counts

def _many(people, item, n, *, accept=False):
    cases = [submit(people, item) for _ in range(n)]
    if accept:
        cases = [services.accept_case(c, actor=people["clerk"].user) for c in cases]
    return cases


@pytest.mark.parametrize("n", [3, 30])
def test_lists_have_no_n_plus_one(people, item, citizen, clerk, reviewer, approver, n, django_assert_max_num_queries):
    _many(people, item, n)
    accepted = _many(people, item, n, accept=True)
    for c in accepted[: n // 3]:  # some decided, for the handover list and varied clocks
        services.complete_task(c.tasks.get(), actor=people["reviewer"].user, opinion="同意")
        services.decide_case(c, actor=people["approver"].user, approved=True, reasons="符合条件")
    services.request_supplement(accepted[-1], actor=people["reviewer"].user, missing_ids=[accepted[-1].materials.first().pk])
    checks = [(citizen, "/api/v1/cases?page_size=100", min(2 * n, 100)), (clerk, "/api/v1/staff/queue?page_size=100", n),
              (reviewer, "/api/v1/staff/tasks?page_size=100", n - n // 3), (approver, "/api/v1/staff/handovers?page_size=100", n // 3),
              (citizen, "/api/v1/messages?page_size=100", None)]
    for client_, url, count in checks:
        with django_assert_max_num_queries(8) as ctx:
            r = client_.get(url)
        assert r.status_code == 200, (url, r.content)
        if count is not None:
            assert len(r.json()["results"]) == count, url
        assert len(ctx.captured_queries) <= 8, url


# ----------------------------------------------------------------------------- junk

def _post_endpoints(case, task_id, handover_id, message_id):
    n = case.number
    return [
        "/api/v1/cases", f"/api/v1/cases/{n}/withdraw", f"/api/v1/cases/{n}/supplement", f"/api/v1/messages/{message_id}/read",
        f"/api/v1/staff/cases/{n}/accept", f"/api/v1/staff/cases/{n}/reject", f"/api/v1/staff/cases/{n}/supplement-request",
        f"/api/v1/staff/cases/{n}/immediate", f"/api/v1/staff/cases/{n}/tasks/{task_id}/complete",
        f"/api/v1/staff/cases/{n}/tasks/{task_id}/return", f"/api/v1/staff/cases/{n}/suspend", f"/api/v1/staff/cases/{n}/resume",
        f"/api/v1/staff/cases/{n}/extend", f"/api/v1/staff/cases/{n}/decide", f"/api/v1/staff/cases/{n}/deliver",
        f"/api/v1/staff/cases/{n}/visits", f"/api/v1/staff/handovers/{handover_id}/claim", "/api/v1/tokens",
        "/api/v1/uploads",
    ]


BIG = "湛" * 200_000
JUNK = [
    b"not json", b"{", b"[]", b"42", b'"text"', b"\xff\xfe\x00",
    json.dumps({"reason": 123, "opinion": ["x"], "approved": "perhaps", "days": "ten", "planned_days": 1e300,
                "missing_ids": "all", "pending_material_ids": [-1], "files": {"abc": "x"}, "method": None}).encode(),
    json.dumps({"item_code": "\x00", "reason": "a\x00b", "opinion": "\x00", "purpose": "\x00", "feedback": "\x00",
                "reasons": "\x00", "form_data": {"k\x00": "v"}, "note": "\x00", "approved": True}).encode(),
    json.dumps({"item_code": BIG, "reason": BIG, "opinion": BIG, "reasons": BIG, "purpose": BIG, "feedback": BIG,
                "address": BIG, "tracking_number": BIG, "note": BIG, "kind": BIG, "method": BIG, "approved": False,
                "form_data": {"x": BIG}, "days": 1, "planned_days": 1}).encode(),
    json.dumps({"missing_ids": [2**70], "pending_material_ids": [2**64, 0], "files": {str(2**80): [2**80]}, "hall_id": 2**70,
                "days": 2**40, "planned_days": -(2**40), "materials": {str(2**70): {"files": [2**70]}},
                "item_code": "x"}).encode(),
    json.dumps({"form_data": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": {"l": {"m": {"n": {
        "o": {"p": {"q": {"r": {"s": {"t": {"u": {"v": 1}}}}}}}}}}}}}}}}}}}}}}, "item_code": "x"}).encode(),
]


@pytest.fixture
def everything(people, item, clerk, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = services.accept_case(submit(people, item), actor=people["clerk"].user)
    decided = services.accept_case(submit(people, item), actor=people["clerk"].user)
    services.complete_task(decided.tasks.get(), actor=people["reviewer"].user, opinion="同意")
    services.decide_case(decided, actor=people["approver"].user, approved=True, reasons="符合条件")
    message = Message.objects.filter(recipient=people["citizen_user"]).first()
    return case, case.tasks.get().pk, decided.handover.pk, message.pk


@pytest.mark.parametrize("who", ["citizen_user", "clerk", "approver"])
def test_junk_bodies_to_every_post_endpoint_are_4xx(people, everything, who):
    user = people[who] if who == "citizen_user" else people[who].user
    c = Client(raise_request_exception=False)
    c.force_login(user)
    urls = _post_endpoints(*everything)
    urls += [u.replace(str(everything[1]), str(2**70)) for u in urls if "/tasks/" in u]
    urls += ["/api/v1/staff/handovers/0/claim", "/api/v1/messages/-1/read", "/api/v1/cases/%00/withdraw"]
    for url in urls:
        for junk in JUNK:
            r = c.post(url, junk, content_type="application/json", headers={"Idempotency-Key": "k" if len(junk) % 2 else "\u00e9" * 70})
            bodyless = url.endswith(("/read", "/resume"))  # these take no body and ignore one
            low = 200 if bodyless else 400
            assert low <= r.status_code < 500, (url, junk[:80], r.status_code, r.content[:300])
            if r.status_code >= 400 and r.headers.get("Content-Type", "").startswith("application/json"):
                assert "code" in r.json(), (url, r.content[:200])
    # nothing moved
    case = Case.objects.get(number=everything[0].number)
    assert case.status == CaseStatus.IN_REVIEW
    assert ReviewTask.objects.get(pk=everything[1]).state == "active"


def test_bad_pagination(citizen, db, people):
    for q in ("page=abc", "page=0", "page_size=1000", "page=" + "9" * 40, "page=99999999999", "page_size=-1"):
        r = citizen.get("/api/v1/cases?" + q)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_page"), q


@pytest.mark.skipif("redis" not in __import__("django.conf").conf.settings.CACHES["default"]["BACKEND"].lower(),
                    reason="the token cache is used only with a shared cache (Redis: CI's PostgreSQL run)")
def test_token_cache_is_forgotten_when_the_token_or_the_user_changes(people, item, django_assert_num_queries):
    """With Redis, a token's user is cached; revoking, deactivating or renaming shows at once."""
    from bianmin.cases.models import Applicant

    token = auth.issue_token(people["citizen_user"], "手机")
    bearer = {"Authorization": f"Bearer {token}"}
    c = Client()
    assert c.get("/api/v1/cases", headers=bearer).status_code == 200
    with django_assert_num_queries(2):  # cached user: only the page of cases and its count, no token query
        assert c.get("/api/v1/cases", headers=bearer).status_code == 200
    applicant = Applicant.objects.get(pk=people["citizen"].pk)
    applicant.phone = "13800000000"
    applicant.save()  # the signal drops the entry: the next call reads the token again
    with django_assert_num_queries(3):
        assert c.get("/api/v1/cases", headers=bearer).status_code == 200
    user = people["citizen_user"]
    user.is_active = False
    user.save()
    assert c.get("/api/v1/cases", headers=bearer).status_code == 401
    user.is_active = True
    user.save()
    assert c.get("/api/v1/cases", headers=bearer).status_code == 200
    auth.revoke_token(ApiToken.objects.get().pk, user=user)
    assert c.get("/api/v1/cases", headers=bearer).status_code == 401


def test_my_cases_lists_a_draft_without_a_number(people, item, citizen):
    """Issue 11.6: an applicant with a draft got a 500 from GET /cases (prefix + a number the draft has not)."""
    draft = services.save_draft(applicant=people["citizen"], item=item, actor=people["citizen_user"], form_data={"备注": "未写完"})
    submitted = submit(people, item)
    r = citizen.get("/api/v1/cases")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 2
    by_status = {c["status"]: c for c in body["results"]}
    assert (by_status["draft"]["number"], by_status["draft"]["url"], by_status["draft"]["status_label"]) == (None, None, "草稿")
    assert by_status["submitted"]["url"] == f"/api/v1/cases/{submitted.number}"
    assert draft.number is None


def test_token_limit_is_the_services_and_both_writes_are_audited(people, citizen):
    from bianmin.core.models import AuditEntry

    user = people["citizen_user"]
    for i in range(20):
        auth.issue_token(user, f"终端 {i}")
    r = post(citizen, "/api/v1/tokens", {"name": "第 21 个"})
    assert (r.status_code, r.json()["code"]) == (400, "too_many_tokens")
    assert ApiToken.objects.filter(user=user).count() == 20
    first = ApiToken.objects.filter(user=user).order_by("id").first()
    assert post(citizen, f"/api/v1/tokens/{first.pk}/revoke").json()["revoked"] is True
    assert post(citizen, f"/api/v1/tokens/{first.pk}/revoke").status_code == 200  # again: nothing more happens
    other = auth.issue_token(people["other_user"], "别人的")
    other_row = ApiToken.objects.get(key_hash=__import__("bianmin.core.tokens", fromlist=["x"]).hash_token(other))
    r = post(citizen, f"/api/v1/tokens/{other_row.pk}/revoke")
    assert (r.status_code, r.json()["code"]) == (404, "token_not_found")
    assert ApiToken.objects.get(pk=other_row.pk).revoked is False
    assert post(citizen, "/api/v1/tokens", {"name": "现在可以了"}).status_code == 201  # 19 active
    actions = list(AuditEntry.objects.filter(action__startswith="api_token.").values_list("action", "object_type"))
    assert actions.count(("api_token.issue", "core.apitoken")) == 22
    assert actions.count(("api_token.revoke", "core.apitoken")) == 1

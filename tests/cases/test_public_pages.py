"""The public's pages: registration, login and its throttle, applying online with real files, drafts,
我的办件, a case's page with supplements, 容缺 materials and withdrawal, the inbox, downloads, and
that an applicant reaches nothing of anyone else's (404 everywhere)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from bianmin.cases import services
from bianmin.cases.models import Applicant, Case, CaseMaterial, CaseStatus, Message, UploadedFile
from bianmin.core.models import AuditEntry
from bianmin.core.identities import resident_id_with_check, uscc_with_check
from tests.cases.test_files import EXE, tiny_pdf, tiny_png

PASSWORD = "Zhanjiang!2026"
NEW_ID = resident_id_with_check("44080219920315123")  # a valid resident ID number


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"
    return settings.MEDIA_ROOT


@pytest.fixture
def item(make_item, halls):
    return make_item(audience="both", online_level=4, name="食品经营许可证核发", halls=[halls["city"].pk], materials=[
        {"name": "食品经营许可申请书", "form": "form"},
        {"name": "营业执照", "pending_allowed": True},
        {"name": "经营场所使用证明", "commitment_allowed": True},
        {"name": "其他补充材料", "required": False},
    ])


def mats(item):
    return {m.name: m for m in item.materials.all()}


@pytest.fixture
def citizen(client, people):
    client.force_login(people["citizen_user"])
    return client


def pdf(name="材料.pdf", text="bianmin"):
    return SimpleUploadedFile(name, tiny_pdf(text), content_type="application/pdf")


def png(name="照片.png"):
    return SimpleUploadedFile(name, tiny_png(), content_type="image/png")


def full_form(item, token="tok-1", action="submit", **extra):
    m = mats(item)
    data = {
        "token": token, "action": action, "contact_name": "张三", "contact_phone": "13800000000", "contact_address": "湛江市赤坎区中山一路 1 号",
        f"file-{m['食品经营许可申请书'].pk}": pdf("申请书.pdf"),
        f"file-{m['营业执照'].pk}": [png("执照.pdf"), pdf("执照副本.pdf")],
        f"commit-{m['经营场所使用证明'].pk}": "1",
    }
    data.update(extra)
    return data


def submit_online(people, item, **kw):
    """A submitted case through the services (for pages that show one)."""
    from bianmin.cases import files
    applicant, actor = kw.pop("applicant", people["citizen"]), kw.pop("actor", people["citizen_user"])
    f = files.store_upload(applicant, pdf(), actor=actor)
    m = mats(item)
    materials = {m["食品经营许可申请书"].pk: {"files": [f.pk]}, m["营业执照"].pk: {"at_window": True},
                 m["经营场所使用证明"].pk: {"commitment": True}}
    return services.submit_application(applicant=applicant, item=item, actor=actor, materials=materials, **kw)


# ----------------------------------------------------------------------------- registration and login

def test_register_a_person_then_log_in(client, db):
    r = client.post("/account/register/", {"kind": "person", "name": "王五", "id_number": NEW_ID.lower().replace("x", "x"),
                                           "phone": "13912345678", "password1": PASSWORD, "password2": PASSWORD})
    # one answer for every number (issue 11): registering logs no one in
    assert r.status_code == 200 and "注册信息已提交" in r.content.decode()
    user = User.objects.get(username=NEW_ID)
    assert user.applicant.name == "王五" and user.applicant.kind == "person" and user.applicant.phone == "13912345678"
    assert user.check_password(PASSWORD) and not user.applicant.is_verified
    r = client.post("/account/login/", {"id_number": NEW_ID, "password": PASSWORD})
    assert r.status_code == 302
    r = client.get("/my/")
    assert r.status_code == 200 and "我的办件" in r.content.decode()


def test_register_a_company(client, db):
    code = uscc_with_check("91440800MA4UABCD1")
    r = client.post("/account/register/?kind=legal_person", {
        "kind": "legal_person", "name": "湛江市海鲜餐饮有限公司", "id_number": code, "legal_representative": "陈六",
        "phone": "13712345678", "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 200
    a = Applicant.objects.get(id_number=code)
    assert (a.kind, a.legal_representative, a.user.username) == ("legal_person", "陈六", code)


def test_register_refuses_a_bad_checksum_beside_the_field(client, db):
    bad = NEW_ID[:-1] + ("0" if NEW_ID[-1] != "0" else "1")
    r = client.post("/account/register/", {"kind": "person", "name": "王五", "id_number": bad, "phone": "13912345678",
                                           "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 400
    html = r.content.decode()
    assert "居民身份证号码校验位不符,请逐位核对号码。" in html
    assert 'role="alert"' in html and 'id="id_id_number_error"' in html and 'aria-describedby="id_id_number_error' in html
    assert not User.objects.exists() and not Applicant.objects.exists()


def test_register_form_checks(client, db):
    r = client.post("/account/register/", {"kind": "person", "name": "", "id_number": NEW_ID, "phone": "12345",
                                           "password1": PASSWORD, "password2": PASSWORD + "x"})
    html = r.content.decode()
    assert r.status_code == 400
    for text in ("请填写姓名", "请填写 11 位手机号码", "两次输入的密码不一致"):
        assert text in html, text
    r = client.post("/account/register/", {"kind": "person", "name": "王五", "id_number": NEW_ID, "phone": "13912345678",
                                           "password1": "12345678", "password2": "12345678"})
    assert r.status_code == 400 and not User.objects.exists()
    # a company needs its legal representative
    r = client.post("/account/register/?kind=legal_person", {"kind": "legal_person", "name": "某公司", "id_number": uscc_with_check("91440800MA4UABCD1"),
                                                             "phone": "13712345678", "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 400 and "请填写法定代表人" in r.content.decode()


def test_register_twice_changes_nothing(client, people):
    data = {"kind": "person", "name": "张三", "id_number": people["citizen"].id_number, "phone": "13800000000",
            "password1": PASSWORD, "password2": PASSWORD}
    r = client.post("/account/register/", data)
    assert r.status_code == 200 and "注册信息已提交" in r.content.decode()
    people["citizen_user"].refresh_from_db()
    assert not people["citizen_user"].check_password(PASSWORD)
    User.objects.create_user(username=NEW_ID, password=PASSWORD)
    r = client.post("/account/register/", {**data, "name": "王五", "id_number": NEW_ID})
    assert r.status_code == 200
    assert Applicant.objects.filter(id_number=NEW_ID).count() == 0


@pytest.fixture
def account(db):
    user = User.objects.create_user(username=NEW_ID, password=PASSWORD)
    services.register_applicant(kind="person", name="王五", id_number=NEW_ID, user=user)
    return user


def test_login_with_id_number(client, account):
    r = client.post("/account/login/", {"id_number": NEW_ID[:6] + " " + NEW_ID[6:], "password": PASSWORD, "next": "/my/messages/"})
    assert r.status_code == 302 and r["Location"] == "/my/messages/"
    assert client.get("/my/").status_code == 200
    r = client.post("/account/logout/")
    assert r.status_code == 302
    assert client.get("/my/").status_code == 302


def test_login_next_must_stay_on_the_site(client, account):
    r = client.post("/account/login/", {"id_number": NEW_ID, "password": PASSWORD, "next": "https://evil.example/"})
    assert r["Location"] == "/my/"


# The login throttle (shared by every entrance) is tested in tests/web/test_throttle.py.


def test_staff_cannot_log_in_as_applicants(client, people):
    staff_user = people["clerk"].user
    staff_user.username = NEW_ID
    staff_user.save()
    right = client.post("/account/login/", {"id_number": NEW_ID, "password": "Bianmin!2026"})
    wrong = client.post("/account/login/", {"id_number": NEW_ID, "password": "not-the-password"})
    # the right staff password gets the answer of a wrong one: this entrance is no oracle for staff passwords
    assert right.status_code == wrong.status_code == 400
    assert "证件号码或密码不正确" in right.content.decode() and "该账号是工作人员账号" not in right.content.decode()
    assert "_auth_user_id" not in client.session
    client.force_login(staff_user)
    r = client.get("/my/")
    assert r.status_code == 403 and "工作人员账号不能办理个人或企业的申请" in r.content.decode()


def test_nav_shows_my_cases_and_login(client, people):
    html = client.get("/").content.decode()
    assert 'href="/my/"' in html and "登录/注册" in html and "工作人员登录" in html
    client.force_login(people["citizen_user"])
    html = client.get("/").content.decode()
    assert 'href="/my/"' in html and "登录/注册" not in html and "工作人员登录" in html


# ----------------------------------------------------------------------------- applying online

def test_apply_online_end_to_end(citizen, people, item, media):
    r = citizen.get(f"/apply/{item.code}/")
    assert r.status_code == 200
    html = r.content.decode()
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    for text in ("食品经营许可申请书", "必要", "可告知承诺", "以告知承诺代替此材料", "保存草稿", "提交申请", 'enctype="multipart/form-data"'):
        assert text in html, text
    assert 'value="张三"' in html  # contact prefilled from the applicant
    r = citizen.post(f"/apply/{item.code}/", full_form(item, token=token))
    assert r.status_code == 302, r.content.decode()[:2000]
    case = Case.objects.get()
    assert r["Location"] == f"/my/cases/{case.number}/submitted/"
    assert case.status == CaseStatus.SUBMITTED and case.channel == "online" and case.commitment
    assert case.form_data == {"contact_name": "张三", "contact_phone": "13800000000", "contact_address": "湛江市赤坎区中山一路 1 号"}
    states = {cm.name: (cm.state, sorted(f.content_type for f in cm.files.all())) for cm in case.materials.all()}
    assert states == {
        "食品经营许可申请书": ("provided", ["application/pdf"]),
        "营业执照": ("provided", ["application/pdf", "image/png"]),  # 执照.pdf was a PNG
        "经营场所使用证明": ("commitment", []),
        "其他补充材料": ("not_needed", []),
    }
    for f in UploadedFile.objects.all():
        assert (Path(media) / f.path).is_file() and f.owner == people["citizen"]
    r = citizen.get(r["Location"])
    html = r.content.decode()
    assert r.status_code == 200 and case.number in html and "申请已提交" in html and "5 个工作日" in html
    assert case.events.get().kind == "submitted"


def test_double_submit_with_the_same_token_makes_one_case(citizen, item):
    first = citizen.post(f"/apply/{item.code}/", full_form(item, token="same-token"))
    second = citizen.post(f"/apply/{item.code}/", full_form(item, token="same-token"))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Case.objects.count() == 1
    assert UploadedFile.objects.count() == 3  # the repeat did not even store its files
    third = citizen.post(f"/apply/{item.code}/", full_form(item, token="another-token"))
    assert third.status_code == 302 and Case.objects.count() == 2


def test_missing_required_material_changes_nothing(citizen, item, media):
    m = mats(item)
    data = full_form(item)
    del data[f"commit-{m['经营场所使用证明'].pk}"]
    r = citizen.post(f"/apply/{item.code}/", data)
    assert r.status_code == 400
    html = r.content.decode()
    assert "以下必要材料尚未提交:经营场所使用证明" in html
    assert "此项为必要材料,请上传文件,或勾选“告知承诺”" in html
    assert f'href="#file-{m["经营场所使用证明"].pk}"' in html and 'role="alert"' in html
    assert not Case.objects.exists() and not UploadedFile.objects.exists()
    assert not any((Path(media) / "uploads").rglob("*.*")) if (Path(media) / "uploads").exists() else True


def test_a_refused_file_is_named_beside_its_material(citizen, item):
    m = mats(item)
    data = full_form(item, **{f"file-{m['食品经营许可申请书'].pk}": SimpleUploadedFile("申请书.pdf", EXE)})
    r = citizen.post(f"/apply/{item.code}/", data)
    assert r.status_code == 400
    html = r.content.decode()
    assert "“申请书.pdf”不是 PDF、JPG、PNG 或 OFD 文件" in html
    assert f'id="file-{m["食品经营许可申请书"].pk}-error"' in html
    assert not Case.objects.exists() and not UploadedFile.objects.exists()
    r = citizen.post(f"/apply/{item.code}/", full_form(item, **{f"file-{m['营业执照'].pk}": SimpleUploadedFile("空.pdf", b"")}))
    assert r.status_code == 400 and "上传的文件是空的" in r.content.decode()


def test_contact_needed_to_submit_but_not_for_a_draft(citizen, item):
    r = citizen.post(f"/apply/{item.code}/", full_form(item, contact_name="", contact_phone="110"))
    assert r.status_code == 400
    html = r.content.decode()
    assert "请填写联系人" in html and "请填写手机号码或带区号的固定电话" in html
    r = citizen.post(f"/apply/{item.code}/", {"action": "draft", "token": "t"})
    assert r.status_code == 302 and Case.objects.get().status == CaseStatus.DRAFT


def test_draft_save_and_resume(citizen, item):
    m = mats(item)
    r = citizen.post(f"/apply/{item.code}/", {"action": "draft", "token": "t1", "contact_name": "张三", "note": "先存一下",
                                              f"file-{m['食品经营许可申请书'].pk}": pdf("申请书.pdf")})
    draft = Case.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/apply/draft/{draft.pk}/"
    assert draft.status == CaseStatus.DRAFT and draft.number is None and draft.form_data == {"contact_name": "张三", "note": "先存一下"}
    saved = UploadedFile.objects.get()
    assert saved.case_material.case == draft
    html = citizen.get("/my/").content.decode()
    assert "草稿" in html and f"/apply/draft/{draft.pk}/" in html
    r = citizen.get(f"/apply/draft/{draft.pk}/")
    html = r.content.decode()
    assert r.status_code == 200 and "保留 申请书.pdf" in html and f'name="keep-{m["食品经营许可申请书"].pk}" value="{saved.pk}"' in html
    assert "先存一下" in html
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    data = full_form(item, token=token, **{f"keep-{m['食品经营许可申请书'].pk}": str(saved.pk)})
    del data[f"file-{m['食品经营许可申请书'].pk}"]
    r = citizen.post(f"/apply/draft/{draft.pk}/", data)
    assert r.status_code == 302
    case = Case.objects.get()
    assert case.pk == draft.pk and case.status == CaseStatus.SUBMITTED and case.number
    assert saved.pk in case.materials.get(name="食品经营许可申请书").files.values_list("pk", flat=True)
    assert citizen.get(f"/apply/draft/{draft.pk}/").status_code == 404  # no longer a draft


def test_keep_cannot_take_a_file_from_another_case(citizen, people, item):
    case = submit_online(people, item)
    taken = UploadedFile.objects.get(case_material__case=case)
    m = mats(item)
    r = citizen.post(f"/apply/{item.code}/", full_form(item, token="x", **{f"keep-{m['其他补充材料'].pk}": str(taken.pk)}))
    assert r.status_code == 404
    taken.refresh_from_db()
    assert taken.case_material.case == case and Case.objects.count() == 1


def test_item_not_online_sends_to_a_hall(citizen, make_item, halls):
    offline = make_item(audience="both", online_level=2, halls=[halls["city"].pk, halls["town"].pk])
    r = citizen.get(f"/apply/{offline.code}/")
    html = r.content.decode()
    assert r.status_code == 200 and "该事项暂不能网上申请,请到服务大厅办理" in html
    assert "湛江市政务服务中心" in html and "中华街道便民服务中心" in html
    assert citizen.post(f"/apply/{offline.code}/", {"action": "submit"}).status_code == 400
    assert not Case.objects.exists()
    draft_item = make_item(audience="both", status="draft")
    assert citizen.get(f"/apply/{draft_item.code}/").status_code == 404
    assert citizen.get("/apply/no-such-item/").status_code == 404


def test_audience_is_the_services_rule(citizen, make_item):
    companies_only = make_item(audience="legal_person", online_level=4)
    r = citizen.get(f"/apply/{companies_only.code}/")
    assert r.status_code == 400 and "该事项仅面向法人" in r.content.decode()


def test_apply_needs_an_applicant_login(client, item):
    r = client.get(f"/apply/{item.code}/")
    assert r.status_code == 302 and r["Location"].startswith("/account/login/?next=%2Fapply%2F")


# ----------------------------------------------------------------------------- 我的办件 and a case

def test_my_cases_lists_only_mine_without_n_plus_one(citizen, people, item, django_assert_max_num_queries):
    cases = [submit_online(people, item) for _ in range(30)]
    theirs = submit_online(people, item, applicant=people["other"], actor=people["other_user"])
    services.request_supplement(cases[-1], actor=people["clerk"].user, missing_ids=[cases[-1].materials.get(name="营业执照").pk],
                                note="请上传清晰的彩色扫描件")
    # the personal page: 我的办件 plus its reminders, licences, counts and next items (4 reads, whatever the lists' lengths)
    with django_assert_max_num_queries(14):
        r = citizen.get("/my/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "共 <strong>30</strong> 件" in html
    assert html.count('<tr class="row-asked">') == 1 and "补正 “营业执照”" in html and "有 1 件办件需要您处理" in html
    assert theirs.number not in html
    assert cases[-1].number in html and cases[10].number in html and cases[9].number not in html  # 20 a page, newest first
    with django_assert_max_num_queries(14):
        r = citizen.get("/my/?page=2")
    assert cases[9].number in r.content.decode() and cases[10].number not in r.content.decode()
    assert citizen.get("/my/?page=abc").status_code == 200
    assert citizen.get("/my/?page=999").status_code == 200


def test_case_page(citizen, people, item, django_capture_on_commit_callbacks):
    case = submit_online(people, item)
    with django_capture_on_commit_callbacks(execute=True):
        case = services.accept_case(case, actor=people["clerk"].user)
    r = citizen.get(f"/my/cases/{case.number}/")
    html = r.content.decode()
    assert r.status_code == 200
    for text in (case.number, "食品经营许可证核发", "审查中", "剩余 5 个工作日", "正常", "已受理", "通过网上申请提交申请",
                 "申请人 张三", "clerk(场监督管理局)", "撤回申请", "告知承诺", "本办件的消息", "法定期限"):
        assert text in html, text
    f = UploadedFile.objects.get(case_material__case=case)
    assert f'href="/files/{f.pk}/"' in html
    event = case.events.get(kind="submitted")
    from django.utils import timezone
    assert timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M") in html  # Asia/Shanghai


def test_other_peoples_things_are_404_everywhere(client, people, item):
    theirs = submit_online(people, item, applicant=people["other"], actor=people["other_user"])
    their_file = UploadedFile.objects.get(case_material__case=theirs)
    their_draft = services.save_draft(applicant=people["other"], item=item, actor=people["other_user"])
    client.force_login(people["citizen_user"])
    n = theirs.number
    for url in (f"/my/cases/{n}/", f"/my/cases/{n}/submitted/", f"/files/{their_file.pk}/", f"/apply/draft/{their_draft.pk}/",
                "/my/cases/440800-20260101-999999/", "/files/999999/", "/files/99999999999999999999999/",
                "/apply/draft/99999999999999999999999/"):
        assert client.get(url).status_code == 404, url
    cm = theirs.materials.first()
    for url in (f"/my/cases/{n}/withdraw/", f"/my/cases/{n}/supplement/", f"/my/cases/{n}/pending/{cm.pk}/", f"/apply/draft/{their_draft.pk}/"):
        assert client.post(url, {"reason": "x", "action": "submit"}).status_code == 404, url
    theirs.refresh_from_db()
    assert theirs.status == CaseStatus.SUBMITTED
    assert Case.objects.get(pk=their_draft.pk).status == CaseStatus.DRAFT


def test_supplement_upload_resumes_the_case(citizen, people, item, media):
    case = services.accept_case(submit_online(people, item), actor=people["clerk"].user)
    licence = case.materials.get(name="营业执照")
    services.request_supplement(case, actor=people["reviewer"].user, missing_ids=[licence.pk], note="营业执照已过期")
    html = citizen.get(f"/my/cases/{case.number}/").content.decode()
    assert "需要您办理" in html and "补正:营业执照" in html and "营业执照已过期" in html and "暂停计时" in html
    # nothing chosen: refused, beside the field
    r = citizen.post(f"/my/cases/{case.number}/supplement/", {})
    assert r.status_code == 400 and "以下补正材料尚未提交:营业执照" in r.content.decode()
    r = citizen.post(f"/my/cases/{case.number}/supplement/", {f"cm-{licence.pk}": SimpleUploadedFile("x.pdf", EXE)})
    assert r.status_code == 400 and f'id="cm-{licence.pk}-error"' in r.content.decode()
    assert not UploadedFile.objects.filter(case_material=licence).exists()
    r = citizen.post(f"/my/cases/{case.number}/supplement/", {f"cm-{licence.pk}": pdf("新执照.pdf")})
    assert r.status_code == 302 and r["Location"] == f"/my/cases/{case.number}/"
    case.refresh_from_db()
    licence.refresh_from_db()
    assert case.status == CaseStatus.IN_REVIEW and licence.state == CaseMaterial.State.PROVIDED
    assert licence.files.get().original_name == "新执照.pdf"
    assert case.events.last().kind == "supplement_received"
    html = citizen.get(r["Location"]).content.decode()
    assert "补正材料已提交" in html and "需要您办理" not in html


def test_refused_supplement_keeps_no_file(citizen, people, item, media):
    """Two materials to correct, a file for only one: the service refuses, and the file it had stored
    for the other is gone with the transaction, on disk too."""
    case = services.accept_case(submit_online(people, item), actor=people["clerk"].user)
    missing = list(case.materials.filter(name__in=["营业执照", "食品经营许可申请书"]))
    services.request_supplement(case, actor=people["reviewer"].user, missing_ids=[cm.pk for cm in missing])
    on_disk = lambda: sorted(p for p in media.rglob("*") if p.is_file())  # noqa: E731  (the application's own files)
    files_before, files_on_disk = UploadedFile.objects.count(), on_disk()
    r = citizen.post(f"/my/cases/{case.number}/supplement/", {f"cm-{missing[0].pk}": pdf("新执照.pdf")})
    assert r.status_code == 400 and "以下补正材料尚未提交" in r.content.decode()
    assert UploadedFile.objects.count() == files_before
    assert on_disk() == files_on_disk
    case.refresh_from_db()
    assert case.status == CaseStatus.SUPPLEMENT and case.events.last().kind == "supplement_requested"


def test_pending_material_upload(citizen, people, item):
    case = submit_online(people, item)
    licence = case.materials.get(name="营业执照")
    case = services.accept_case(case, actor=people["clerk"].user, pending_material_ids=[licence.pk])
    licence.refresh_from_db()
    assert licence.state == CaseMaterial.State.PENDING
    html = citizen.get("/my/").content.decode()
    assert "补交容缺材料 “营业执照”" in html
    r = citizen.post(f"/my/cases/{case.number}/pending/{licence.pk}/", {})
    assert r.status_code == 400 and "请选择要上传的文件" in r.content.decode()
    r = citizen.post(f"/my/cases/{case.number}/pending/{licence.pk}/", {f"cm-{licence.pk}": png()})
    assert r.status_code == 302
    licence.refresh_from_db()
    assert licence.state == CaseMaterial.State.PROVIDED and licence.files.get().content_type == "image/png"
    assert citizen.post(f"/my/cases/{case.number}/pending/{licence.pk}/", {f"cm-{licence.pk}": png()}).status_code == 404


def test_withdraw(citizen, people, item):
    case = submit_online(people, item)
    r = citizen.post(f"/my/cases/{case.number}/withdraw/", {"reason": "材料需要重新准备"})
    assert r.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.WITHDRAWN
    assert case.events.last().message == "申请人撤回申请:材料需要重新准备"
    html = citizen.get(f"/my/cases/{case.number}/").content.decode()
    assert "已撤回" in html and 'action="/my/cases/%s/withdraw/"' % case.number not in html
    # again: the service says no, in Chinese, with 409, and nothing changes
    r = citizen.post(f"/my/cases/{case.number}/withdraw/", {"reason": ""})
    assert r.status_code == 409 and "办件当前状态为“已撤回”,不能撤回申请" in r.content.decode()
    assert case.events.count() == 2


def test_csrf_is_enforced(people, item):
    case = submit_online(people, item)
    c = Client(enforce_csrf_checks=True)
    c.force_login(people["citizen_user"])
    assert c.post(f"/my/cases/{case.number}/withdraw/", {"reason": "x"}).status_code == 403
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED
    html = c.get(f"/my/cases/{case.number}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert c.post(f"/my/cases/{case.number}/withdraw/", {"reason": "x", "csrfmiddlewaretoken": token}).status_code == 302


def test_bad_input_never_500(citizen, people, item):
    case = submit_online(people, item)
    for method, url, data in (
        ("post", f"/apply/{item.code}/", {"action": "submit", "token": "z" * 500, f"keep-{mats(item)['营业执照'].pk}": "abc"}),
        ("post", f"/apply/{item.code}/", {"action": "submit", f"commit-{mats(item)['食品经营许可申请书'].pk}": "1", "contact_name": "张三", "contact_phone": "13800000000"}),
        ("post", f"/my/cases/{case.number}/withdraw/", {"reason": "很长" * 200}),
        ("get", "/my/cases/" + "9" * 200 + "/", {}),
        ("get", "/apply/" + "x" * 300 + "/", {}),
        ("post", "/account/login/", {"id_number": "x" * 1000, "password": "p"}),
        ("post", "/account/register/", {"kind": "robot"}),
        ("get", "/my/cases/%00%2F..%2F/", {}),
    ):
        r = getattr(citizen, method)(url, data)
        assert 300 <= r.status_code < 500, (url, r.status_code)
    assert Case.objects.count() == 1


# ----------------------------------------------------------------------------- inbox and downloads

def test_inbox_marks_read(citizen, people, item, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = services.accept_case(submit_online(people, item), actor=people["clerk"].user)
    msg = Message.objects.get(recipient=people["citizen_user"])
    assert msg.case == case and msg.read_at is None
    html = citizen.get("/my/").content.decode()
    assert "条未读" in html
    r = citizen.get("/my/messages/")
    html = r.content.decode()
    assert r.status_code == 200 and msg.title in html and ">新<" in html and f"/my/cases/{case.number}/" in html
    msg.refresh_from_db()
    assert msg.read_at is not None
    read = AuditEntry.objects.filter(action="message.read")
    assert [(e.actor, e.data["messages"]) for e in read] == [("citizen", [msg.pk])]  # by the service, with its entry
    assert ">新<" not in citizen.get("/my/messages/").content.decode()
    assert read.count() == 1  # shown again: nothing newly read, nothing written
    other = Client()
    other.force_login(people["other_user"])
    assert msg.title not in other.get("/my/messages/").content.decode()
    assert read.count() == 1


def test_download(citizen, people, item, client):
    case = submit_online(people, item)
    f = UploadedFile.objects.get(case_material__case=case)
    r = citizen.get(f"/files/{f.pk}/")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/pdf"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Content-Disposition"].startswith("attachment;")
    assert b"".join(r.streaming_content)[:5] == b"%PDF-"
    reviewer = Client()
    reviewer.force_login(people["reviewer"].user)
    assert reviewer.get(f"/files/{f.pk}/").status_code == 200
    police = Client()
    police.force_login(people["police_reviewer"].user)
    assert police.get(f"/files/{f.pk}/").status_code == 404
    anonymous = Client()
    assert anonymous.get(f"/files/{f.pk}/").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_two_copies_of_a_form_at_the_same_moment_make_one_case(people, item):
    """A double click sends two requests at once: both carry the form's token, one case results and both
    answers lead to it (on PostgreSQL the unique key decides; on SQLite the write lock serialises)."""
    import threading

    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("the in-memory shared-cache SQLite test database answers 'table is locked' to a second thread; "
                    "a SQLite file (production) serialises writers with BEGIN IMMEDIATE instead")
    clients = []
    for _ in range(2):
        c = Client()
        c.force_login(people["citizen_user"])
        clients.append(c)
    forms = [full_form(item, token="one-click") for _ in clients]
    connection.close()
    barrier = threading.Barrier(2, timeout=30)
    answers, errors = [], []

    def post(c, data):
        try:
            barrier.wait()
            answers.append(c.post(f"/apply/{item.code}/", data))
        except Exception as exc:  # reported below, never a hang
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(c, d)) for c, d in zip(clients, forms)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    case = Case.objects.get()
    assert [r.status_code for r in answers] == [302, 302]
    assert {r["Location"] for r in answers} == {f"/my/cases/{case.number}/submitted/"}
    assert UploadedFile.objects.filter(case_material__isnull=True).count() == 0  # the loser's uploads went with it


def test_a_form_sent_again_after_it_made_its_case_leaves_no_files_behind(citizen, item, media):
    """The second copy arrives after the first committed (a retry after a time-out): same case, and
    the copy's own uploads are neither kept as rows nor as files."""
    first = citizen.post(f"/apply/{item.code}/", full_form(item, token="retry-1"))
    stored = sorted(p.name for p in media.rglob("*") if p.is_file())
    again = citizen.post(f"/apply/{item.code}/", full_form(item, token="retry-1"))
    case = Case.objects.get()
    assert first["Location"] == again["Location"] == f"/my/cases/{case.number}/submitted/"
    assert UploadedFile.objects.count() == 3 and not UploadedFile.objects.filter(case_material__isnull=True).exists()
    assert sorted(p.name for p in media.rglob("*") if p.is_file()) == stored  # 3 files, the first copy's
    assert len(stored) == 3

"""services.submit_application and save_draft: one submission path for every channel (issue 10.2, 10.9),
and the retained-proof check (T9) at submission, acceptance, 补正 and 容缺 (issue 10.1).

The same bad input is refused by the web form, the API and the window with the same code and the same
Chinese message, and leaves nothing behind: no case, no upload row, no stored file."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from bianmin.cases import files, services
from bianmin.cases.models import Applicant, Case, CaseMaterial, CaseStatus, UploadedFile
from bianmin.catalog import selectors as catalog_selectors
from bianmin.catalog.models import Proof
from bianmin.core.errors import ValidationError
from bianmin.core.identities import resident_id_with_check
from tests.cases.test_files import tiny_pdf

WANG = resident_id_with_check("44080219800101001")  # a new applicant registered at the window


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"
    return settings.MEDIA_ROOT


def stored_files(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


@pytest.fixture
def item(make_item, halls):
    return make_item(audience="both", online_level=4, name="食品经营许可证核发", halls=[halls["city"].pk], materials=[
        {"name": "申请书", "form": "form"},
        {"name": "其他补充材料", "required": False},
    ])


def material(item, name="申请书"):
    return item.materials.get(name=name)


def pdf(name="申请书.pdf"):
    return SimpleUploadedFile(name, tiny_pdf(name), content_type="application/pdf")


# ----------------------------------------------------------------------------- the three channels

def web(people, item, *, phone="13800000000", files_count=1, note=""):
    c = Client()
    c.force_login(people["citizen_user"])
    m = material(item)
    r = c.post(f"/apply/{item.code}/", {"token": "web-1", "action": "submit", "contact_name": "张三", "contact_phone": phone,
                                        "note": note, f"file-{m.pk}": [pdf(f"页{i}.pdf") for i in range(files_count)]})
    return r.status_code, r.content.decode()


def api(people, item, *, phone="13800000000", files_count=1, note=""):
    c = Client()
    c.force_login(people["citizen_user"])
    uploaded = [files.store_upload(people["citizen"], pdf(f"页{i}.pdf"), actor=people["citizen_user"]) for i in range(files_count)]
    ids = [f.pk for f in uploaded]
    body = {"item_code": item.code, "contact": {"name": "张三", "phone": phone}, "form_data": {"note": note} if note else {},
            "materials": {str(material(item).pk): {"files": ids}}}
    r = c.post("/api/v1/cases", json.dumps(body), content_type="application/json", headers={"Idempotency-Key": "api-1"})
    # the API's uploads are made before the submission (POST /uploads): a refused submission leaves them to the applicant
    if r.status_code >= 400:
        UploadedFile.objects.filter(pk__in=ids).delete()
        files.discard(uploaded)
    return r.status_code, r.json()


def window(people, item, *, phone="13600000000", files_count=1, note=""):
    c = Client()
    c.force_login(people["clerk"].user)
    m, other = material(item), material(item, "其他补充材料")
    r = c.post("/console/cases/new/", {"item": item.code, "token": "win-1", "kind": "person", "id_number": WANG, "name": "王五",
                                       "phone": phone, "note": note, f"material_{m.pk}": "upload", f"material_{other.pk}": "none",
                                       f"file_{m.pk}": [pdf(f"页{i}.pdf") for i in range(files_count)]})
    return r.status_code, r.content.decode()


BAD_INPUTS = {  # what is sent -> (status, code, message), worked out from the rules by hand
    "no phone": ({"phone": ""}, (400, "contact_phone_required", "请填写联系电话,以便办理部门联系您")),
    "a bad phone": ({"phone": "110"}, (400, "contact_phone_invalid", "请填写手机号码或带区号的固定电话,例如 13800000000 或 0759-3388123")),
    "11 files for one material": ({"files_count": 11}, (400, "too_many_files", "每项材料最多 10 个文件")),
    "bad form_data (a note of 2001 characters)": ({"note": "说" * 2001}, (400, "form_data_invalid", "申请表“note”:文字不能超过 2000 个字")),
}


@pytest.mark.parametrize("bad", list(BAD_INPUTS))
def test_every_channel_refuses_the_same_bad_input_the_same_way(people, item, media, bad):
    given, (status, code, message) = BAD_INPUTS[bad]
    r_status, body = api(people, item, **given)
    assert (r_status, body["code"], body["message"]) == (status, code, message)
    for channel in (web, window):
        r_status, html = channel(people, item, **given)
        assert (r_status, message in html) == (status, True), (channel.__name__, html[:3000] if r_status != status else "")
    assert not Case.objects.exists()
    assert not UploadedFile.objects.exists() and stored_files(media) == []  # the refused uploads left nothing behind
    assert not Applicant.objects.filter(id_number=WANG).exists()  # nor a half-registered applicant


def test_the_same_good_input_goes_through_every_channel(people, item, media):
    for channel in (web, api, window):
        status, _ = channel(people, item, files_count=10)  # ten files: the limit itself is allowed
        assert status in (201, 302), channel.__name__
    cases = list(Case.objects.order_by("id"))
    assert [c.channel for c in cases] == ["online", "online", "window"]
    assert [c.materials.get(name="申请书").files.count() for c in cases] == [10, 10, 10]
    assert [c.form_data.get("contact_phone") for c in cases] == ["13800000000", "13800000000", "13600000000"]


# ----------------------------------------------------------------------------- the service itself

def test_without_a_contact_the_applicants_phone_on_file_is_used_and_needed(people, item):
    m = material(item)
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                       materials={m.pk: {"at_window": True}})
    assert case.form_data == {"contact_name": "张三", "contact_phone": "13800000000"}
    nobody = Applicant.objects.create(kind="person", name="赵六", id_number=resident_id_with_check("44080219700101002"))
    with pytest.raises(ValidationError) as exc:
        services.submit_application(applicant=nobody, item=item, actor=people["clerk"].user, channel="window",
                                    materials={m.pk: {"at_window": True}})
    assert (exc.value.code, exc.value.field) == ("contact_phone_required", "contact.phone")


def test_every_problem_is_named_by_its_field_at_once(people, item):
    m = material(item)
    with pytest.raises(ValidationError) as exc:
        services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                    contact=services.Contact(name="", phone="12345"), form_data={"": 1},
                                    materials={m.pk: {"files": list(range(1, 12))}})
    assert [(d["field"], d["code"]) for d in exc.value.details] == [
        ("contact.name", "contact_name_required"), ("contact.phone", "contact_phone_invalid"),
        ("form_data", "form_data_invalid"), (f"materials.{m.pk}", "too_many_files")]
    assert exc.value.code == "contact_name_required" and exc.value.message.startswith("有 4 处需要修改")
    assert not Case.objects.exists()


@pytest.mark.parametrize("form_data, field", [
    ([1, 2], "form_data"),                                     # not an object
    ({"a": {"b": {"c": {"d": 1}}}}, "form_data.a"),           # nested 4 deep
    ({"a": object()}, "form_data.a"),                          # not JSON
    ({f"k{i}": i for i in range(101)}, "form_data"),          # 101 fields
    ({"x" * 65: 1}, "form_data"),                              # a field name of 65 characters
])
def test_form_data_shape(people, item, form_data, field):
    with pytest.raises(ValidationError) as exc:
        services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], form_data=form_data,
                                    materials={material(item).pk: {"at_window": True}})
    assert (exc.value.code, exc.value.field) == ("form_data_invalid", field)


def test_form_data_size(people, item):
    big = {f"k{i}": "字" * 1000 for i in range(30)}  # 30 × 3000 bytes of UTF-8 > 64 KB
    with pytest.raises(ValidationError) as exc:
        services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], form_data=big,
                                    materials={material(item).pk: {"at_window": True}})
    assert (exc.value.code, exc.value.message) == ("form_data_too_large", "申请表内容过大(不超过 64 KB)")


def test_uploads_are_stored_by_the_service_and_removed_when_the_submission_fails(people, item, media):
    m, other = material(item), material(item, "其他补充材料")
    bad = SimpleUploadedFile("x.pdf", b"MZ not a pdf")
    with pytest.raises(ValidationError) as exc:
        services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                    materials={m.pk: {"uploads": [pdf()]}, other.pk: {"uploads": [bad]}})
    assert (exc.value.code, exc.value.field) == ("file_type_not_allowed", f"materials.{other.pk}")
    assert not UploadedFile.objects.exists() and stored_files(media) == []  # the good file stored first is gone too
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                       materials={m.pk: {"uploads": [pdf()]}}, idempotency_key="k1")
    assert case.materials.get(name="申请书").files.count() == 1 and len(stored_files(media)) == 1
    again = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                        materials={m.pk: {"uploads": [pdf()]}}, idempotency_key="k1")
    assert again.pk == case.pk and again.is_replay
    assert UploadedFile.objects.count() == 1 and len(stored_files(media)) == 1  # the retry stored nothing


# ----------------------------------------------------------------------------- drafts (10.9)

def test_a_double_click_on_save_draft_makes_one_draft(people, item, media):
    m = material(item)
    c = Client()
    c.force_login(people["citizen_user"])
    form = {"token": "dbl-1", "action": "draft", "contact_name": "张三", "contact_phone": "13800000000"}
    r1 = c.post(f"/apply/{item.code}/", {**form, f"file-{m.pk}": pdf()})
    r2 = c.post(f"/apply/{item.code}/", {**form, f"file-{m.pk}": pdf()})
    assert r1.status_code == r2.status_code == 302 and r1["Location"] == r2["Location"]
    draft = Case.objects.get()
    assert draft.status == CaseStatus.DRAFT
    assert UploadedFile.objects.count() == 1 and len(stored_files(media)) == 1  # the second click's file went again
    # the service: the same key is the same draft
    again = services.save_draft(applicant=people["citizen"], item=item, actor=people["citizen_user"], idempotency_key="dbl-1")
    assert again.pk == draft.pk and Case.objects.count() == 1
    other = services.save_draft(applicant=people["citizen"], item=item, actor=people["citizen_user"], idempotency_key="dbl-2")
    assert other.pk != draft.pk


def test_a_file_taken_off_a_draft_is_deleted_with_its_stored_file(people, item, media, django_capture_on_commit_callbacks):
    m = material(item)
    draft = services.save_draft(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                materials={m.pk: {"uploads": [pdf("第一页.pdf"), pdf("第二页.pdf")]}})
    first, second = draft.materials.get(name="申请书").files.order_by("id")
    assert len(stored_files(media)) == 2
    c = Client()
    c.force_login(people["citizen_user"])
    with django_capture_on_commit_callbacks(execute=True):  # storage is cleaned once the transaction commits
        r = c.post(reverse("cases_public:draft", kwargs={"pk": draft.pk}), {"token": "t", "action": "draft", f"keep-{m.pk}": [second.pk]})
    assert r.status_code == 302
    assert list(UploadedFile.objects.values_list("pk", flat=True)) == [second.pk]
    assert [p.name for p in stored_files(media)] == [second.path.rsplit("/", 1)[-1]]  # gone from storage too
    with django_capture_on_commit_callbacks(execute=True):
        case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], draft=draft,
                                           materials={m.pk: {"uploads": [pdf("新的.pdf")]}})
    assert case.status == CaseStatus.SUBMITTED
    assert [f.original_name for f in UploadedFile.objects.all()] == ["新的.pdf"] and len(stored_files(media)) == 1


# ----------------------------------------------------------------------------- retained proofs (T9)

@pytest.fixture
def proof():
    return Proof.objects.create(name="无犯罪记录证明", legal_basis="《保安服务管理条例》第十六条", requesting_unit="市公安局",
                                issuing_unit="户籍所在地派出所", guide="持身份证到派出所开具")


@pytest.fixture
def proof_item(make_item, proof):
    return make_item(audience="both", online_level=4, materials=[
        {"name": "申请书", "form": "form"}, {"name": "无犯罪记录证明", "proof": proof.pk, "pending_allowed": True}])


def cancel(proof):
    Proof.objects.filter(pk=proof.pk).update(is_retained=False)  # T8: cancelled after the item was published


def test_off_the_retained_list_reads_the_proof_fresh(proof_item, proof):
    materials = list(proof_item.materials.all())
    assert catalog_selectors.off_the_retained_list(materials) == []
    cancel(proof)
    assert [m.name for m in catalog_selectors.off_the_retained_list(materials)] == ["无犯罪记录证明"]


def test_at_submission_a_cancelled_proof_is_not_asked_for(people, proof_item, proof):
    cancel(proof)
    case = services.submit_application(applicant=people["citizen"], item=proof_item, actor=people["citizen_user"],
                                       materials={material(proof_item).pk: {"at_window": True}})
    cm = case.materials.get(name="无犯罪记录证明")
    assert (cm.state, cm.note) == (CaseMaterial.State.NOT_NEEDED, "该证明事项已从保留证明事项清单中取消,不再要求提供")


def _submitted(people, proof_item):
    return services.submit_application(applicant=people["citizen"], item=proof_item, actor=people["citizen_user"],
                                       materials={material(proof_item).pk: {"at_window": True}})


def test_at_acceptance_a_cancelled_proof_is_dropped(people, proof_item, proof):
    case = _submitted(people, proof_item)
    assert case.materials.get(name="无犯罪记录证明").state == CaseMaterial.State.MISSING
    cancel(proof)
    case = services.accept_case(case, actor=people["clerk"].user)
    assert case.status == CaseStatus.IN_REVIEW
    assert case.materials.get(name="无犯罪记录证明").state == CaseMaterial.State.NOT_NEEDED


def test_buzheng_may_not_ask_for_a_cancelled_proof(people, proof_item, proof):
    case = _submitted(people, proof_item)
    cancel(proof)
    with pytest.raises(ValidationError) as exc:
        services.request_supplement(case, actor=people["clerk"].user, missing_ids=[case.materials.get(name="无犯罪记录证明").pk])
    assert (exc.value.code, exc.value.field) == ("proof_not_retained", "missing")
    assert exc.value.message == "以下材料对应的证明事项已不在保留证明事项清单内,不得要求申请人提供:无犯罪记录证明"
    assert Case.objects.get(pk=case.pk).status == CaseStatus.SUBMITTED


def test_rongque_may_not_leave_a_cancelled_proof_for_later(people, proof_item, proof):
    case = _submitted(people, proof_item)
    cancel(proof)
    with pytest.raises(ValidationError) as exc:
        services.accept_case(case, actor=people["clerk"].user, pending_material_ids=[case.materials.get(name="无犯罪记录证明").pk])
    assert (exc.value.code, exc.value.field) == ("proof_not_retained", "pending")
    assert Case.objects.get(pk=case.pk).status == CaseStatus.SUBMITTED


# ----------------------------------------------------------------------------- one definition each

def test_the_rules_are_stated_once():
    """A second definition coming back fails here: the retained-proof check outside catalog.selectors'
    `off_the_retained_list`, a files-per-material limit, a contact-phone pattern or a form_data size
    outside the submission service."""
    from pathlib import Path

    import bianmin

    src = Path(bianmin.__file__).parent
    # needle -> (where it may not appear, the one file where it may)
    owners = {"is_retained": ("cases/", None), "MAX_FILES_PER_MATERIAL =": ("", "cases/services.py"),
              r"0\d{2,3}": ("", "cases/services.py"), "= 64 * 1024": ("cases/", "cases/services.py")}  # a size limit defined
    found = {}
    for path in src.rglob("*.py"):
        rel = path.relative_to(src).as_posix()
        if "/migrations/" in rel:
            continue
        text = path.read_text(encoding="utf-8")
        for needle, (scope, owner) in owners.items():
            if needle in text and rel.startswith(scope) and rel != owner:
                found.setdefault(needle, []).append(rel)
    assert found == {}, found

"""Once-only (T15, T16): materials a current e-licence satisfies are filled from the repository and logged
as the holder's licence uses; checked again at acceptance. Proofs off the retained list (T8, T9) are
never asked for. Licence type codes in the catalog must be registered."""

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bianmin.cases import clock, identity, services
from bianmin.cases.models import CaseMaterial, CaseStatus
from bianmin.catalog import services as catalog_services
from bianmin.catalog.models import Proof
from bianmin.core.errors import ValidationError
from bianmin.core.identities import uscc_with_check
from bianmin.licences import services as licence_services
from bianmin.licences.models import LicenceUse
from tests.conftest import item_data


@pytest.fixture
def company(people, holders):
    name, uscc = holders["company"]
    user = User.objects.create_user(username="company", password="Bianmin!2026")
    company = services.register_applicant(kind="legal_person", name=name, id_number=uscc, phone="13900000000", user=user,
                                       legal_representative="王五")
    return identity.mark_verified(applicant=company, method="window")  # a verified holder (issue 11)


@pytest.fixture
def item(make_item, licence_types):
    # 食品经营许可: the 营业执照 material is satisfied by a yyzz licence
    return make_item(audience="legal_person")


def issue(licence_types, holders, departments, **kw):
    name, uscc = holders["company"]
    return licence_services.issue_licence(licence_type=licence_types["yyzz"], holder_name=name, holder_id_number=uscc,
                                          issuer=departments["market"], **kw)


def others_at_window(item, skip=("营业执照",)):
    return {m.pk: {"at_window": True} for m in item.materials.all() if m.name not in skip}


def test_a_current_licence_fills_the_material_and_the_use_is_logged(company, item, licence_types, holders, departments, people):
    licence = issue(licence_types, holders, departments)
    case = services.submit_application(applicant=company, item=item, actor=company.user, materials=others_at_window(item))
    cm = case.materials.get(name="营业执照")
    assert cm.state == CaseMaterial.State.FROM_LICENCE
    assert cm.note == f"已从电子证照库调取:营业执照 {licence.number}(证照标识 {licence.identifier})"
    use = LicenceUse.objects.get(licence=licence)
    assert (use.via, use.department, use.case_number) == (LicenceUse.Via.CASE, item.department, case.number)
    # the clerk accepts without asking for it
    case = services.accept_case(case, actor=people["clerk"].user)
    assert case.status == CaseStatus.IN_REVIEW


def test_without_a_licence_the_material_is_asked_for(company, item, licence_types):
    with pytest.raises(ValidationError) as exc:
        services.submit_application(applicant=company, item=item, actor=company.user, materials=others_at_window(item))
    assert exc.value.code == "materials_missing" and "营业执照" in exc.value.message
    assert not LicenceUse.objects.exists()


def test_expired_revoked_or_someone_elses_licence_does_not_count(company, item, licence_types, holders, departments, people):
    old = issue(licence_types, holders, departments, issued_on=date(2019, 1, 1), valid_until=date.today() - timedelta(days=1))
    revoked = issue(licence_types, holders, departments)
    licence_services.revoke_licence(revoked, "企业申请注销", people["approver"].user)
    licence_services.issue_licence(licence_type=licence_types["yyzz"], holder_name="别的公司", holder_id_number=uscc_with_check("91440800MA4W99999"),
                                   issuer=departments["market"])
    assert old.status == "expired"
    with pytest.raises(ValidationError) as exc:
        services.submit_application(applicant=company, item=item, actor=company.user, materials=others_at_window(item))
    assert exc.value.code == "materials_missing"


def test_a_draft_shows_the_filled_material_but_logs_no_use(company, item, licence_types, holders, departments):
    issue(licence_types, holders, departments)
    draft = services.save_draft(applicant=company, item=item, actor=company.user)
    assert draft.materials.get(name="营业执照").state == CaseMaterial.State.FROM_LICENCE
    assert not LicenceUse.objects.exists()


def test_one_licence_query_per_submission_whatever_the_number_of_materials(company, make_item, licence_types, holders, departments):
    materials = [{"name": "申请书", "form": "form"}] + [
        {"name": name, "satisfied_by": code} for name, code in (("营业执照", "yyzz"), ("食品经营许可证", "spjyxkz"), ("结婚证", "jhz"))]
    item = make_item(audience="legal_person", materials=materials, result_licence_type="spjyxkz")
    issue(licence_types, holders, departments)
    name, uscc = holders["company"]
    licence_services.issue_licence(licence_type=licence_types["spjyxkz"], holder_name=name, holder_id_number=uscc,
                                   issuer=departments["market"])
    given = {m.pk: {"at_window": True} for m in item.materials.all() if m.name in ("申请书", "结婚证")}
    with CaptureQueriesContext(connection) as ctx:
        case = services.submit_application(applicant=company, item=item, actor=company.user, materials=given)
    selects = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT") and '"licences_licence"' in q["sql"]]
    # one statement writes the uses (on PostgreSQL the same statement as the case)
    inserts = [q["sql"] for q in ctx.captured_queries if 'INSERT INTO "licences_licenceuse"' in q["sql"]]
    assert len(selects) == 1 and len(inserts) == 1
    states = dict(case.materials.values_list("name", "state"))
    assert states == {"申请书": "provided", "营业执照": "from_licence", "食品经营许可证": "from_licence", "结婚证": "provided"}
    assert LicenceUse.objects.filter(case_number=case.number).count() == 2


def test_a_licence_revoked_before_acceptance_is_refused_and_can_be_asked_for(company, item, licence_types, holders, departments, people):
    licence = issue(licence_types, holders, departments)
    case = services.submit_application(applicant=company, item=item, actor=company.user, materials=others_at_window(item))
    licence_services.revoke_licence(licence, "吊销营业执照", people["approver"].user)
    with pytest.raises(ValidationError) as exc:
        services.accept_case(case, actor=people["clerk"].user)
    assert exc.value.code == "licence_no_longer_valid"
    assert exc.value.message == "以下材料所依据的电子证照已注销或过期,请要求申请人补正或核验纸质原件:营业执照"
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED
    cm = case.materials.get(name="营业执照")
    case = services.request_supplement(case, actor=people["clerk"].user, missing_ids=[cm.pk], note="营业执照已注销")
    assert case.status == CaseStatus.SUPPLEMENT
    cm.refresh_from_db()
    assert cm.state == CaseMaterial.State.MISSING


def test_a_renewed_licence_of_the_same_type_still_satisfies_at_acceptance(company, item, licence_types, holders, departments, people):
    licence = issue(licence_types, holders, departments)
    case = services.submit_application(applicant=company, item=item, actor=company.user, materials=others_at_window(item))
    licence_services.supersede_licence(licence, people["approver"].user, holder_name=holders["company"][0])
    case = services.accept_case(case, actor=people["clerk"].user)
    assert case.status == CaseStatus.IN_REVIEW


# ----------------------------------------------------------------------------- proofs (T8, T9)

@pytest.fixture
def proof():
    return Proof.objects.create(name="无犯罪记录证明", legal_basis="《保安服务管理条例》第十六条", requesting_unit="市公安局",
                                issuing_unit="户籍所在地派出所", guide="持身份证到派出所开具")


def test_a_proof_cancelled_after_the_application_is_not_asked_for(people, make_item, proof, licence_types):
    item = make_item(audience="both", materials=[{"name": "申请书", "form": "form"},
                                                 {"name": "无犯罪记录证明", "proof": proof.pk, "pending_allowed": True}])
    proof_cm = lambda case: case.materials.get(name="无犯罪记录证明")  # noqa: E731
    apply_form = {m.pk: {"at_window": True} for m in item.materials.filter(name="申请书")}
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], materials=apply_form)
    assert proof_cm(case).state == CaseMaterial.State.MISSING  # 容缺: the clerk would decide
    Proof.objects.filter(pk=proof.pk).update(is_retained=False)  # cancelled (T8) meanwhile
    with pytest.raises(ValidationError) as exc:
        services.accept_case(case, actor=people["clerk"].user, pending_material_ids=[proof_cm(case).pk])
    assert exc.value.code == "proof_not_retained"
    with pytest.raises(ValidationError) as exc:
        services.request_supplement(case, actor=people["clerk"].user, missing_ids=[proof_cm(case).pk])
    assert exc.value.code == "proof_not_retained"
    assert "无犯罪记录证明" in exc.value.message
    case = services.accept_case(case, actor=people["clerk"].user)
    assert case.status == CaseStatus.IN_REVIEW
    cm = proof_cm(case)
    assert (cm.state, cm.note) == (CaseMaterial.State.NOT_NEEDED, "该证明事项已从保留证明事项清单中取消,不再要求提供")


def test_an_item_cannot_require_a_proof_off_the_list(departments, proof, licence_types):
    proof.is_retained = False
    proof.save()
    with pytest.raises(ValidationError) as exc:
        catalog_services.save_item(item_data(departments["market"], materials=[{"name": "无犯罪记录证明", "proof": proof.pk}]))
    assert [d["code"] for d in exc.value.details] == ["proof_not_retained"]


def test_licence_type_codes_must_be_registered(departments, licence_types):
    data = item_data(departments["market"], result_licence_type="nosuch",
                     materials=[{"name": "申请书", "form": "form"}, {"name": "身份证明", "satisfied_by": "xyz"}])
    with pytest.raises(ValidationError) as exc:
        catalog_services.save_item(data)
    assert [(d["field"], d["code"], d["message"]) for d in exc.value.details] == [
        ("result_licence_type", "unknown_licence_type", "结果证照类型代码:“nosuch”不是已登记的电子证照类型代码"),
        ("materials", "unknown_licence_type", "申请材料:“身份证明”:可替代的电子证照类型代码“xyz”未登记"),
    ]
    item = catalog_services.save_item(item_data(departments["market"], result_licence_type="spjyxkz"))
    assert item.result_licence_type == "spjyxkz"


# ----------------------------------------------------------------------------- the application form: 免提交 and reuse with consent

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402

from bianmin.cases import files as case_files  # noqa: E402
from bianmin.core.services import issue_token  # noqa: E402
from bianmin.cases.models import UploadedFile  # noqa: E402
from tests.cases.test_files import tiny_pdf  # noqa: E402


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"
    return settings.MEDIA_ROOT


@pytest.fixture
def form_item(make_item, licence_types):
    return make_item(audience="legal_person", online_level=4, materials=[
        {"name": "食品经营许可申请书", "form": "form"}, {"name": "营业执照", "satisfied_by": "yyzz"},
        {"name": "法定代表人身份证明"}])


def _earlier_case(company, item, media):
    """An earlier application in which the company uploaded its 法定代表人身份证明."""
    m = {x.name: x for x in item.materials.all()}
    f = case_files.store_upload(company, SimpleUploadedFile("法人身份证.pdf", tiny_pdf("id")), actor=company.user)
    return services.submit_application(applicant=company, item=item, actor=company.user, materials={
        m["食品经营许可申请书"].pk: {"at_window": True}, m["营业执照"].pk: {"at_window": True},
        m["法定代表人身份证明"].pk: {"files": [f.pk]}}), f


def test_the_form_says_what_is_filled_and_what_can_be_reused(client, company, form_item, licence_types, holders, departments, media, people):
    earlier, f = _earlier_case(company, form_item, media)
    licence = issue(licence_types, holders, departments)
    client.force_login(company.user)
    html = client.get(f"/apply/{form_item.code}/").content.decode()
    m = {x.name: x for x in form_item.materials.all()}
    assert "1 项材料已从电子证照库调取" in html and f"营业执照(编号 {licence.number}" in html and "免提交" in html
    assert f'name="reuse-{m["法定代表人身份证明"].pk}"' in html and f"同意复用我在办件 {earlier.number} 中提交过的“法定代表人身份证明”:法人身份证.pdf" in html
    assert f'name="reuse-{m["法定代表人身份证明"].pk}" value="1" id="reuse-{m["法定代表人身份证明"].pk}" checked' not in html  # consent is not presumed
    # another applicant is offered nothing of the company's
    other = Client()
    other.force_login(people["other_user"])
    assert "同意复用" not in other.get(f"/apply/{form_item.code}/").content.decode()


def _post(client, item, reuse_ticked, token):
    m = {x.name: x for x in item.materials.all()}
    data = {"token": token, "action": "submit", "contact_name": "王五", "contact_phone": "13900000000",
            f"file-{m['食品经营许可申请书'].pk}": SimpleUploadedFile("申请书.pdf", tiny_pdf("form"))}
    if reuse_ticked:
        data[f"reuse-{m['法定代表人身份证明'].pk}"] = "1"
    return client.post(f"/apply/{item.code}/", data)


def test_reuse_only_with_the_box_ticked(client, company, form_item, licence_types, holders, departments, media):
    earlier, f = _earlier_case(company, form_item, media)
    issue(licence_types, holders, departments)
    client.force_login(company.user)
    r = _post(client, form_item, reuse_ticked=False, token="t-1")
    assert r.status_code == 400 and "法定代表人身份证明" in r.content.decode()  # not ticked: still asked for
    r = _post(client, form_item, reuse_ticked=True, token="t-2")
    assert r.status_code == 302
    case = company.cases.exclude(pk=earlier.pk).get()
    done = client.get(r["Location"]).content.decode()  # the confirmation says what was not asked again, and from where
    assert "这些材料您无需再交" in done and "已从电子证照库调取:营业执照" in done and f"复用办件 {earlier.number}" in done
    cm = case.materials.get(name="法定代表人身份证明")
    assert cm.state == CaseMaterial.State.PROVIDED
    assert cm.note == f"经申请人同意,复用办件 {earlier.number} 中已提交的“法定代表人身份证明”"
    copy = cm.files.get()
    assert copy.pk != f.pk and copy.owner == company and copy.sha256 == f.sha256 and copy.original_name == "法人身份证.pdf"
    with case_files.open_stored(copy) as a, case_files.open_stored(f) as b:
        assert copy.path != f.path and a.read() == b.read()
    f.refresh_from_db()
    assert f.case_material.case == earlier  # the earlier case keeps its own file
    assert case.materials.get(name="营业执照").state == CaseMaterial.State.FROM_LICENCE


def test_api_offers_and_reuses_with_consent(client, company, form_item, licence_types, holders, departments, media):
    earlier, f = _earlier_case(company, form_item, media)
    licence = issue(licence_types, holders, departments)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(company.user, 'app')}"}
    form = client.get(f"/api/v1/apply/{form_item.code}", **headers).json()
    by_name = {x["name"]: x for x in form["materials"]}
    assert by_name["营业执照"]["from_licence"] == {"licence_name": "营业执照", "number": licence.number, "identifier": licence.identifier}
    assert by_name["营业执照"]["reusable"] is None
    assert by_name["法定代表人身份证明"]["reusable"]["case_number"] == earlier.number
    assert [x["name"] for x in by_name["法定代表人身份证明"]["reusable"]["files"]] == ["法人身份证.pdf"]
    upload = case_files.store_upload(company, SimpleUploadedFile("申请书.pdf", tiny_pdf("x")), actor=company.user)
    body = {"item_code": form_item.code, "materials": {
        str(by_name["食品经营许可申请书"]["id"]): {"files": [upload.pk]}, str(by_name["法定代表人身份证明"]["id"]): {"reuse": True}}}
    r = client.post("/api/v1/cases", body, content_type="application/json", **headers)
    assert r.status_code == 201, r.json()
    case = company.cases.get(number=r.json()["number"])
    assert case.materials.get(name="法定代表人身份证明").files.get().sha256 == f.sha256
    # nothing to reuse: refused, nothing copied
    before = UploadedFile.objects.count()
    body["materials"] = {str(by_name["营业执照"]["id"]): {"reuse": True}}  # only given at a window before: no file
    r = client.post("/api/v1/cases", body, content_type="application/json", **headers)
    assert (r.status_code, r.json()["code"]) == (400, "nothing_to_reuse")
    assert UploadedFile.objects.count() == before


def test_the_clerk_sees_the_filled_material_and_the_refusal_after_a_revocation(client, company, item, licence_types, holders,
                                                                             departments, people):
    licence = issue(licence_types, holders, departments)
    case = services.submit_application(applicant=company, item=item, actor=company.user, materials=others_at_window(item))
    client.force_login(people["clerk"].user)
    html = client.get(f"/console/cases/{case.number}/").content.decode()
    assert "电子证照免提交" in html and licence.identifier in html
    licence_services.revoke_licence(licence, "吊销营业执照", people["approver"].user)
    r = client.post(f"/console/cases/{case.number}/accept/")
    assert r.status_code == 400
    assert "以下材料所依据的电子证照已注销或过期,请要求申请人补正或核验纸质原件:营业执照" in r.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED


def test_a_material_handed_in_anyway_is_not_a_licence_use(company, item, licence_types, holders, departments):
    issue(licence_types, holders, departments)
    materials = {m.pk: {"at_window": True} for m in item.materials.all()}  # the clerk checked the paper licence too
    case = services.submit_application(applicant=company, item=item, actor=company.user, materials=materials)
    assert case.materials.get(name="营业执照").state == CaseMaterial.State.PROVIDED
    assert not LicenceUse.objects.exists()

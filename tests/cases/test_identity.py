"""Real-name identity (issue 11 point 1): a record is claimed by a proof, never by typing its name and
number. Self-registration gives an unverified account that sees only what it submitted itself; window
receipts and SMS to the phone on file carry one-time activation codes; the register and reset forms
answer one message whatever the cause, and are rate-limited."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from bianmin.cases import files, identity, services
from bianmin.core.services import issue_token
from bianmin.cases.models import ActivationCode, Applicant, OutboxMessage
from bianmin.cases.public_views import REGISTERED_MESSAGE, SMS_SENT_MESSAGE
from bianmin.core.identities import resident_id_with_check, uscc_with_check
from bianmin.licences import services as licence_services
from bianmin.licences.models import LicenceType
from tests.cases.test_files import tiny_pdf

PASSWORD = "Zhanjiang!2026"
STRANGER_PASSWORD = "Stranger!2026x"
PERSON_ID = resident_id_with_check("44080219750304002")
COMPANY_ID = uscc_with_check("91440800MA4W67890")


@pytest.fixture
def company_at_window(departments):
    """An enterprise registered at a window (no account), holding a business licence."""
    company = services.register_applicant(kind="legal_person", name="湛江市南海渔业有限公司", id_number=COMPANY_ID,
                                          phone="13911112222", legal_representative="林海")
    licence = licence_services.issue_licence(licence_type=LicenceType.objects.get(code="yyzz"), holder_name=company.name,
                                             holder_id_number=company.id_number, issuer=departments["market"])
    return company, licence


@pytest.fixture
def id_card(departments):
    """An imported 居民身份证 bound to a number that has no applicant record yet."""
    return licence_services.issue_licence(licence_type=LicenceType.objects.get(code="jmsfz"), holder_name="陈真名",
                                          holder_id_number=PERSON_ID, issuer=departments["police"],
                                          surface={"住址": "广东省湛江市赤坎区中山一路 1 号"})


def register(client, kind, name, number, phone="13700001111", password=STRANGER_PASSWORD, **extra):
    url = "/account/register/" + ("?kind=legal_person" if kind == "legal_person" else "")
    return client.post(url, {"kind": kind, "name": name, "id_number": number, "phone": phone,
                             "password1": password, "password2": password, **extra})


def visible_text(response) -> str:
    """The page without its per-request tokens, to compare two answers."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


# ----------------------------------------------------------------------------- the defect, reproduced

def test_a_stranger_registering_a_companys_public_name_and_uscc_does_not_get_it(client, company_at_window):
    company, licence = company_at_window
    r = register(client, "legal_person", company.name, company.id_number, legal_representative="冒充者")
    assert r.status_code == 200 and REGISTERED_MESSAGE in r.content.decode()
    company.refresh_from_db()
    assert company.user_id is None and company.legal_representative == "林海"
    assert not User.objects.filter(username=COMPANY_ID).exists()
    assert not client.login(username=COMPANY_ID, password=STRANGER_PASSWORD)
    assert client.get(f"/my/licences/{licence.identifier}/pdf/").status_code == 302  # not logged in at all


def test_a_person_registered_at_a_window_is_not_claimed_by_name_and_number(client, people, make_item):
    walk_in = services.register_applicant(kind="person", name="赵七", id_number=PERSON_ID, phone="13600002222")
    item = make_item(audience="person")
    case = services.submit_application(applicant=walk_in, item=item, actor=people["clerk"].user, channel="window",
                                       materials={m.pk: {"at_window": True} for m in item.materials.all()})
    r = register(client, "person", "赵七", PERSON_ID)
    assert r.status_code == 200 and REGISTERED_MESSAGE in r.content.decode()
    walk_in.refresh_from_db()
    assert walk_in.user_id is None
    assert not client.login(username=PERSON_ID, password=STRANGER_PASSWORD)
    assert case.number  # the case exists, and nobody online holds it


def test_a_licence_bound_to_a_number_alone_shows_to_nobody_who_typed_the_number(client, id_card):
    for name in ("随便写", "陈真名"):  # any name, and even the right one: typing is no proof
        Applicant.objects.filter(id_number=PERSON_ID).delete()
        User.objects.filter(username=PERSON_ID).delete()
        r = register(client, "person", name, PERSON_ID)
        assert r.status_code == 200
        user = User.objects.get(username=PERSON_ID)
        assert user.applicant.is_verified is False
        client.force_login(user)
        html = client.get("/my/licences/").content.decode()
        assert id_card.number not in html and "账号尚未实名核验" in html and 'href="/account/activate/"' in html
        assert client.get(f"/my/licences/{id_card.identifier}/pdf/").status_code == 404
        api = Client()
        token = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(user, 'test')}"}
        assert api.get("/api/v1/my/licences", **token).json() == []
        assert api.get(f"/api/v1/my/licences/{id_card.identifier}/pdf", **token).status_code == 404
        client.logout()


def test_register_answers_one_message_whatever_the_number(client, people, company_at_window):
    """New number, number with a window record, number with an account, number under another name:
    the same status and the same page (no oracle)."""
    new = register(client, "person", "王新", resident_id_with_check("44080219900101001"))
    window = register(client, "legal_person", "随便一个名称", COMPANY_ID, legal_representative="某人")
    taken = register(client, "person", "张三", people["citizen"].id_number)
    other_name = register(client, "person", "不是张三", people["citizen"].id_number, phone="13700001112")
    assert {r.status_code for r in (new, window, taken, other_name)} == {200}
    pages = {visible_text(r) for r in (new, window, taken, other_name)}
    assert len(pages) == 1 and REGISTERED_MESSAGE in pages.pop()
    for text in ("不一致", "该证件号码已注册账号,请直接登录"):  # the old answers that told a known number apart
        assert text not in taken.content.decode() and text not in other_name.content.decode()
    assert "_auth_user_id" not in client.session  # nobody is logged in by registering


def test_register_is_rate_limited_per_number_and_per_address(people):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(3):
        assert register(client, "person", f"张{i}", people["citizen"].id_number).status_code == 200
    r = register(client, "person", "张四", people["citizen"].id_number)
    assert r.status_code == 429 and int(r["Retry-After"]) > 3000
    # the same number from elsewhere is refused too (the limit is the number's)
    assert register(Client(REMOTE_ADDR="198.51.100.1"), "person", "张五", people["citizen"].id_number).status_code == 429
    # one address, many numbers: the 11th within the hour waits
    many = Client(REMOTE_ADDR="203.0.113.8")
    codes = [register(many, "person", "某人", resident_id_with_check(f"44080219900101{i:02d}1")).status_code for i in range(11)]
    assert codes == [200] * 10 + [429]


# ----------------------------------------------------------------------------- activation codes

def test_window_receipt_code_claims_the_record_once(client, company_at_window):
    company, licence = company_at_window
    code = identity.issue_activation_code(applicant=company, channel="receipt")
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{10}", code)
    row = ActivationCode.objects.get(applicant=company)
    assert code not in row.code_hash and len(row.code_hash) == 64  # stored as an HMAC only
    assert timedelta(hours=71) < row.expires_at - timezone.now() <= timedelta(hours=72)
    r = client.post("/account/activate/", {"action": "redeem", "id_number": COMPANY_ID, "code": identity.format_code(code).lower(),
                                           "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/my/"
    company.refresh_from_db()
    assert company.is_verified and company.verified_by == "activation" and company.user.username == COMPANY_ID
    html = client.get("/my/licences/").content.decode()
    assert licence.number in html and "账号尚未实名核验" not in html
    assert client.get(f"/my/licences/{licence.identifier}/pdf/").status_code == 200
    # single use
    r = Client().post("/account/activate/", {"action": "redeem", "id_number": COMPANY_ID, "code": code,
                                             "password1": STRANGER_PASSWORD, "password2": STRANGER_PASSWORD})
    assert r.status_code == 400 and identity.INVALID_CODE in r.content.decode()
    assert Client().login(username=COMPANY_ID, password=PASSWORD)


def test_wrong_codes_use_up_the_tries(client, company_at_window):
    company, _ = company_at_window
    code = identity.issue_activation_code(applicant=company, channel="receipt")
    for _ in range(identity.MAX_TRIES):
        with pytest.raises(Exception) as exc:
            identity.redeem_code(id_number=COMPANY_ID, code="AAAAAAAAAA", password=PASSWORD)
        assert exc.value.code == "activation_invalid"
    with pytest.raises(Exception) as exc:  # the right code, too late
        identity.redeem_code(id_number=COMPANY_ID, code=code, password=PASSWORD)
    assert exc.value.code == "activation_invalid"
    company.refresh_from_db()
    assert company.user_id is None


def test_an_expired_code_is_refused(company_at_window):
    company, _ = company_at_window
    code = identity.issue_activation_code(applicant=company, channel="receipt")
    ActivationCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Exception) as exc:
        identity.redeem_code(id_number=COMPANY_ID, code=code, password=PASSWORD)
    assert exc.value.code == "activation_invalid"


def test_sms_code_goes_to_the_phone_on_file_and_answers_are_generic(client, company_at_window):
    company, licence = company_at_window
    unknown = client.post("/account/activate/", {"action": "sms", "sms-id_number": uscc_with_check("91440800MA4W00001")})
    known = client.post("/account/activate/", {"action": "sms", "sms-id_number": COMPANY_ID})
    assert unknown.status_code == known.status_code == 200
    assert SMS_SENT_MESSAGE in unknown.content.decode() and SMS_SENT_MESSAGE in known.content.decode()
    sms = OutboxMessage.objects.get()
    assert sms.to == "13911112222"  # the phone on file, not one typed in the request
    code = re.search(r"验证码是 (\d{6})", sms.body).group(1)
    row = ActivationCode.objects.get(applicant=company)
    assert row.channel == "sms" and timedelta(minutes=14) < row.expires_at - timezone.now() <= timedelta(minutes=15)
    r = client.post("/account/password-reset/", {"action": "redeem", "id_number": COMPANY_ID, "code": code,
                                                 "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 302
    company.refresh_from_db()
    assert company.is_verified and company.verified_by == "activation"


def test_sms_code_to_a_self_registered_phone_resets_the_password_but_proves_nothing(client, id_card):
    register(client, "person", "陈真名", PERSON_ID, phone="13755556666")
    client.post("/account/password-reset/", {"action": "sms", "sms-id_number": PERSON_ID})
    code = re.search(r"验证码是 (\d{6})", OutboxMessage.objects.get(to="13755556666").body).group(1)
    r = client.post("/account/password-reset/", {"action": "redeem", "id_number": PERSON_ID, "code": code,
                                                 "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 302
    a = Applicant.objects.get(id_number=PERSON_ID)
    assert a.user.check_password(PASSWORD) and not a.is_verified
    assert id_card.number not in client.get("/my/licences/").content.decode()


def test_sms_codes_are_rate_limited_per_number(client, company_at_window):
    for _ in range(3):
        assert client.post("/account/activate/", {"action": "sms", "sms-id_number": COMPANY_ID}).status_code == 200
    assert Client().post("/account/activate/", {"action": "sms", "sms-id_number": COMPANY_ID}).status_code == 429
    assert OutboxMessage.objects.count() == 3


def test_the_window_receipt_takes_the_record_back_from_a_squatter(client, people, make_item, id_card):
    """A stranger self-registers the number under the right name first; then the real person comes to
    the window. The squatter loses the record at once, the receipt code claims it, the squatter's
    password stops working, and the case registered at the window never showed to the squatter."""
    register(client, "person", "陈真名", PERSON_ID)
    squatter = User.objects.get(username=PERSON_ID)
    client.force_login(squatter)
    record = services.register_applicant(kind="person", name="陈真名", id_number=PERSON_ID)  # what the window does
    item = make_item(audience="person")
    case = services.submit_application(applicant=record, item=item, actor=people["clerk"].user, channel="window",
                                       materials={m.pk: {"at_window": True} for m in item.materials.all()})
    # before any code: the unverified account does not see the window's case, nor the file the clerk scanned
    assert case.number not in client.get("/my/").content.decode()
    assert client.get(f"/my/cases/{case.number}/").status_code == 404
    scanned = files.store_upload(record, SimpleUploadedFile("户口簿.pdf", tiny_pdf("hukou")), actor=people["clerk"].user)
    scanned.case_material = case.materials.first()
    scanned.save(update_fields=["case_material"])
    assert client.get(f"/files/{scanned.pk}/").status_code == 404
    code = identity.issue_activation_code(applicant=record, channel="receipt")
    record.refresh_from_db()
    assert record.user_id is None and record.phone == ""  # the squatter's phone cannot receive a reset code
    real = Client()
    r = real.post("/account/activate/", {"action": "redeem", "id_number": PERSON_ID, "code": code,
                                         "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 302
    assert real.get(f"/my/cases/{case.number}/").status_code == 200
    assert real.get(f"/files/{scanned.pk}/").status_code == 200
    assert id_card.number in real.get("/my/licences/").content.decode()
    assert not Client().login(username=PERSON_ID, password=STRANGER_PASSWORD)
    assert client.get("/my/").status_code == 302  # the squatter's session ended with the password change


def test_console_registration_prints_the_activation_code(client, people, make_item):
    item = make_item(audience="person")
    client.force_login(people["clerk"].user)
    data = {"item": item.code, "kind": "person", "name": "赵七", "id_number": PERSON_ID, "phone": "13600002222", "token": "t1"}
    data.update({f"material_{m.pk}": "at_window" for m in item.materials.all()})
    r = client.post("/console/cases/new/", data, follow=True)
    html = r.content.decode()
    code = re.search(r"激活码:([A-Z2-9]{5}-[A-Z2-9]{5})", html).group(1)
    with pytest.raises(Exception):
        identity.redeem_code(id_number=PERSON_ID, code="WRONGCODE1", password=PASSWORD)
    user = identity.redeem_code(id_number=PERSON_ID, code=code, password=PASSWORD)
    assert user.applicant.is_verified and user.applicant.cases.count() == 1


def test_an_unverified_account_may_apply_online_for_itself(client, make_item):
    register(client, "person", "王新", PERSON_ID)
    user = User.objects.get(username=PERSON_ID)
    item = make_item(audience="person")
    case = services.submit_application(applicant=user.applicant, item=item, actor=user,
                                       materials={m.pk: {"at_window": True} for m in item.materials.all()})
    client.force_login(user)
    assert client.get(f"/my/cases/{case.number}/").status_code == 200
    assert case.number in client.get("/my/").content.decode()


def test_a_verified_holder_sees_licences_of_its_number_and_name_only(client, people, departments):
    """Number and name must both match: a licence bound to the citizen's number under another name (a
    typo at import, or someone else's record) is not the citizen's."""
    citizen = people["citizen"]
    jmsfz = LicenceType.objects.get(code="jmsfz")
    mine = licence_services.issue_licence(licence_type=jmsfz, holder_name=citizen.name, holder_id_number=citizen.id_number,
                                          issuer=departments["police"])
    other_name = licence_services.issue_licence(licence_type=jmsfz, holder_name="张三丰", holder_id_number=citizen.id_number,
                                                issuer=departments["police"])
    client.force_login(people["citizen_user"])
    html = client.get("/my/licences/").content.decode()
    assert mine.number in html and other_name.number not in html
    assert client.get(f"/my/licences/{other_name.identifier}/pdf/").status_code == 404


def test_a_weak_password_keeps_the_code_for_another_try(client, company_at_window):
    company, _ = company_at_window
    code = identity.issue_activation_code(applicant=company, channel="receipt")
    r = client.post("/account/activate/", {"action": "redeem", "id_number": COMPANY_ID, "code": code,
                                           "password1": "12345678", "password2": "12345678"})
    assert r.status_code == 400 and "_auth_user_id" not in client.session
    company.refresh_from_db()
    assert company.user_id is None
    r = client.post("/account/activate/", {"action": "redeem", "id_number": COMPANY_ID, "code": code,
                                           "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 302


def test_junk_on_the_account_pages_is_a_4xx(client, db):
    for data in ({"action": "nothing"}, {"action": "redeem", "id_number": "x" * 500, "code": "\x00"},
                 {"action": "sms", "sms-id_number": ""}):
        assert client.post("/account/activate/", data).status_code == 400
    assert client.get("/account/oidc/callback/", {"state": "x", "code": "y"}).status_code in (400, 404)


@pytest.mark.django_db(transaction=True)
def test_one_code_redeemed_twice_at_the_same_moment_claims_once(departments):
    """Two browsers send the same receipt code at once: one account gets the record, the other answer
    is the generic refusal (the code's row is locked; on SQLite the write lock serialises)."""
    import threading

    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("the in-memory shared-cache SQLite test database answers 'table is locked' to a second thread")
    company = services.register_applicant(kind="legal_person", name="湛江市南海渔业有限公司", id_number=COMPANY_ID,
                                          phone="13911112222", legal_representative="林海")
    code = identity.issue_activation_code(applicant=company, channel="receipt")
    connection.close()
    barrier = threading.Barrier(2, timeout=30)
    outcomes, errors = [], []

    def redeem(password):
        try:
            barrier.wait()
            identity.redeem_code(id_number=COMPANY_ID, code=code, password=password)
            outcomes.append(password)
        except Exception as exc:
            errors.append(getattr(exc, "code", repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(p,)) for p in (PASSWORD, STRANGER_PASSWORD)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 1 and errors == ["activation_invalid"]
    company.refresh_from_db()
    assert company.is_verified and company.user.check_password(outcomes[0])
    assert ActivationCode.objects.get().used_at is not None

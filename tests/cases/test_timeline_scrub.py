"""Issue 11 point 7: an ID number a clerk types into a reason is masked in the inbox and the SMS, and
must be masked the same way in the applicant's timeline (the case page and the API's events), on the
API's rejection reason and on the console — one masking, `core.identities.scrub`."""

from datetime import date

import pytest

from bianmin.cases import services
from bianmin.core import services as auth
from bianmin.cases.models import Message, OutboxMessage
from bianmin.core import workdays


@pytest.fixture
def rejected(people, make_item, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(workdays, "today", lambda: date(2026, 9, 28))
    item = make_item(audience="both", phone="0759-3333333")
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                       materials={m.pk: {"at_window": True} for m in item.materials.all()})
    idn = people["citizen"].id_number
    with django_capture_on_commit_callbacks(execute=True):
        services.reject_case(case, actor=people["clerk"].user, reason=f"申请人 {idn} 已持有有效许可证,不得重复申请")
    return case, idn, idn[:6] + "********" + idn[-4:]


def test_the_reason_is_masked_wherever_the_applicant_reads_it(client, people, rejected):
    case, idn, masked = rejected
    # the inbox and the SMS (masked before this change; the reference)
    [m] = Message.objects.filter(recipient=people["citizen_user"])
    assert masked in m.body and idn not in m.body
    assert all(idn not in s.body for s in OutboxMessage.objects.all())

    client.force_login(people["citizen_user"])
    page = client.get(f"/my/cases/{case.number}/").content.decode()
    assert f"不予受理:申请人 {masked} 已持有有效许可证" in page  # the timeline entry
    assert idn not in page

    headers = {"Authorization": f"Bearer {auth.issue_token(people['citizen_user'], '测试')}"}
    events = client.get(f"/api/v1/cases/{case.number}/events", headers=headers).json()
    assert [e["message"] for e in events if e["kind"] == "rejected"] == [f"不予受理:申请人 {masked} 已持有有效许可证,不得重复申请"]
    detail = client.get(f"/api/v1/cases/{case.number}", headers=headers).json()
    assert detail["rejection_reason"] == f"申请人 {masked} 已持有有效许可证,不得重复申请"
    assert idn not in str(events) + str(detail)


def test_the_console_shows_the_same_masked_reason(client, people, rejected):
    case, idn, masked = rejected
    client.force_login(people["clerk"].user)
    page = client.get(f"/console/cases/{case.number}/").content.decode()
    assert f"申请人 {masked} 已持有有效许可证" in page and idn not in page


def test_a_companys_code_and_phone_are_masked_alike_on_the_console_and_the_api(client, people, make_item):
    """Issue 10: the console showed a legal person's USCC whole while the staff API masked it; one
    masking (core.identities) now gives the same text to the same clerk."""
    from bianmin.core.identities import uscc_with_check

    code = uscc_with_check("91440800MA4W00001")
    company = services.register_applicant(kind="legal_person", name="湛江某某食品有限公司", id_number=code,
                                          phone="13912345678", legal_representative="王五")
    item = make_item(audience="both")
    case = services.submit_application(applicant=company, item=item, actor=people["clerk"].user, channel="window", hall=people["clerk"].hall,
                                       materials={m.pk: {"at_window": True} for m in item.materials.all()})
    masked = code[:6] + "********" + code[-4:]
    client.force_login(people["clerk"].user)
    page = client.get(f"/console/cases/{case.number}/").content.decode()
    assert masked in page and code not in page
    headers = {"Authorization": f"Bearer {auth.issue_token(people['clerk'].user, '测试')}"}
    applicant = client.get(f"/api/v1/staff/cases/{case.number}", headers=headers).json()["applicant"]
    assert (applicant["id_number"], applicant["phone"]) == (masked, "139****5678")

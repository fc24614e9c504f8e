"""Issuing, revoking, superseding and expiring licences through the services; issuing on case approval."""

from datetime import date, timedelta

import pytest

from bianmin.core.audit import verify as audit_verify
from bianmin.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from bianmin.core.models import AuditEntry
from bianmin.licences import identifiers, seals, services
from bianmin.licences.models import Licence, LicenceStatus
from bianmin.org.models import Role
from tests.conftest import make_staff


@pytest.fixture
def issue(licence_types, departments, holders):
    def _issue(type_code="spjyxkz", holder="company", **kw):
        name, number = holders[holder]
        kw.setdefault("issuer", departments["market"])
        return services.issue_licence(licence_type=licence_types[type_code], holder_name=name,
                                      holder_id_number=number, **kw)
    return _issue


def test_issue_fills_metadata_signs_and_audits(issue, departments, holders, monkeypatch):
    monkeypatch.setattr(services, "today", lambda: date(2026, 3, 15))
    licence = issue(surface={"经营场所": "湛江市赤坎区中山一路1号", "经营项目": "热食类食品制售", "面积": 120})
    market = departments["market"]
    assert licence.status == LicenceStatus.VALID
    assert licence.holder_id_type == "uscc" and licence.holder_id_number == holders["company"][1]
    assert (licence.issuer_name, licence.issuer_code, licence.region_code) == (market.name, market.uscc, "440800")
    # 5-year validity from 2026-03-15: to 2031-03-14
    assert (licence.issued_on, licence.valid_from, licence.valid_until) == (date(2026, 3, 15), date(2026, 3, 15), date(2031, 3, 14))
    assert licence.surface["面积"] == "120"  # numbers kept as text: a stable signed form
    parsed = identifiers.parse_identifier(licence.identifier)
    assert (parsed.type_code, parsed.issuer_uscc, parsed.version) == ("11100000000013127D001", market.uscc, 1)
    assert licence.number == "SPJYXKZ44080020260000001"
    assert seals.verify(licence.seal, services.canonical_bytes(licence), licence.signature)
    entry = AuditEntry.objects.get(action="licence.issue")
    assert entry.data["identifier"] == licence.identifier and holders["company"][1] not in str(entry.data)
    assert audit_verify().ok


def test_serial_counts_per_issuer_and_numbers_per_type(issue, departments):
    a = issue()
    b = issue()
    c = issue(issuer=departments["police"])
    serial = lambda lic: identifiers.parse_identifier(lic.identifier).serial  # noqa: E731
    assert (serial(a), serial(b), serial(c)) == (1, 2, 1)
    assert a.number != b.number


def test_canonical_bytes_are_sorted_json_of_the_metadata(issue):
    licence = issue(number="JY14408000001", issued_on=date(2026, 1, 5), surface={"b": "2", "a": "1"})
    text = services.canonical_bytes(licence).decode()
    assert text.startswith('{"case_number":"","holder_id_number":')
    assert '"surface":{"a":"1","b":"2"}' in text and '"valid_until":"2031-01-04"' in text
    assert '"status"' not in text  # status is the repository's, read at verification


def test_holder_kind_and_identity_are_checked(issue, licence_types, holders, departments):
    with pytest.raises(ValidationError) as exc:
        issue(holder="person")  # a food business licence for a natural person
    assert exc.value.code == "holder_kind_mismatch"
    with pytest.raises(ValidationError) as exc:
        services.issue_licence(licence_type=licence_types["jhz"], holder_name="张三", holder_id_number="440802199001011230",
                               issuer=departments["chikan_civil"])
    assert exc.value.code == "resident_id_check_digit"
    assert not Licence.objects.exists()


@pytest.mark.parametrize("kw, code", [
    ({"valid_from": date(2026, 5, 1), "valid_until": date(2026, 4, 30)}, "invalid_validity"),
    ({"issued_on": "2026-02-30"}, "invalid_date"),
    ({"issued_on": date.today() + timedelta(days=400)}, "invalid_date"),
    ({"surface": ["not", "a", "dict"]}, "invalid_surface"),
    ({"surface": {"x": "a" * 501}}, "too_long"),
    ({"number": "x" * 61}, "too_long"),
    ({"region_code": "44O800"}, "invalid"),
])
def test_bad_input_is_refused_and_changes_nothing(issue, kw, code):
    with pytest.raises(ValidationError) as exc:
        issue(**kw)
    assert exc.value.code == code
    assert not Licence.objects.exists()


def test_duplicate_number_of_a_type_is_a_conflict(issue):
    issue(number="JY14408000001")
    with pytest.raises(Conflict):
        issue(number="JY14408000001")
    assert Licence.objects.count() == 1


def test_long_term_licence_and_expired_import(issue, monkeypatch):
    business = issue(type_code="yyzz")
    assert business.valid_until is None
    old = issue(issued_on=date(2015, 6, 1), imported=True, number="JY14408000009")
    assert old.valid_until == date(2020, 5, 31) and old.status == LicenceStatus.EXPIRED and old.imported


def test_revoke_by_the_issuing_departments_approver_only(issue, departments, staff):
    licence = issue()
    approver = make_staff("m_approver", departments["market"], Role.APPROVER)
    police_approver = make_staff("p_approver", departments["police"], Role.APPROVER)
    with pytest.raises(NotFound):
        services.revoke_licence(licence, "吊销", police_approver.user)
    with pytest.raises(PermissionDenied):
        services.revoke_licence(licence, "吊销", staff["market_clerk"].user)
    with pytest.raises(ValidationError):
        services.revoke_licence(licence, "  ", approver.user)
    licence = services.revoke_licence(licence, "经营者申请注销", approver.user)
    assert licence.status == LicenceStatus.REVOKED and licence.revoke_reason == "经营者申请注销"
    with pytest.raises(Conflict):
        services.revoke_licence(licence, "再次注销", approver.user)
    assert AuditEntry.objects.filter(action="licence.revoke").count() == 1


def test_supersede_makes_a_new_version_with_the_same_serial(issue, departments):
    old = issue(surface={"经营场所": "赤坎区中山一路1号"})
    approver = make_staff("m_approver", departments["market"], Role.APPROVER)
    new = services.supersede_licence(old, approver.user, surface={"经营场所": "霞山区人民大道2号"})
    old.refresh_from_db()
    assert old.status == LicenceStatus.SUPERSEDED and new.supersedes == old
    assert (new.version, new.number) == (2, old.number)
    o, n = identifiers.parse_identifier(old.identifier), identifiers.parse_identifier(new.identifier)
    assert (n.serial, n.version) == (o.serial, 2)
    assert new.surface == {"经营场所": "霞山区人民大道2号"}
    with pytest.raises(Conflict):
        services.supersede_licence(old, approver.user)
    with pytest.raises(ValidationError):
        services.supersede_licence(new, approver.user, holder_id_number="x")


def test_expire_licences_is_idempotent(issue):
    today = services.today()
    ending = issue(valid_from=date(2021, 1, 1), issued_on=date(2021, 1, 1), valid_until=today + timedelta(days=10))
    lasting = issue()
    assert services.expire_licences(today + timedelta(days=10)) == 0  # its last day: still valid
    assert services.expire_licences(today + timedelta(days=11)) == 1
    assert services.expire_licences(today + timedelta(days=11)) == 0
    ending.refresh_from_db()
    lasting.refresh_from_db()
    assert (ending.status, lasting.status) == (LicenceStatus.EXPIRED, LicenceStatus.VALID)


def test_find_by_identifier(issue):
    licence = issue()
    assert services.find_by_identifier(licence.identifier.lower()) == licence
    other = identifiers.make_identifier("JYXK", licence.issuer_code, 999, 1)
    with pytest.raises(NotFound):
        services.find_by_identifier(other)
    with pytest.raises(ValidationError):
        services.find_by_identifier(licence.identifier[:-1] + "?")


def test_verification_states(issue, departments, monkeypatch):
    licence = issue()
    v = services.verification(licence)
    assert (v["genuine"], v["unaltered"], v["current"], v["verdict"]) == (True, True, True, "current")
    assert v["holder"] == "湛江市海鲜餐饮有限公司"  # an organisation's name is public
    approver = make_staff("m_approver", departments["market"], Role.APPROVER)
    services.revoke_licence(licence, "吊销许可", approver.user)
    v = services.verification(Licence.objects.get(pk=licence.pk))
    assert (v["genuine"], v["current"], v["verdict"], v["status"]) == (True, False, "revoked", "revoked")
    assert "注销" in v["message"]
    person = issue(type_code="jhz", holder="person", issuer=departments["chikan_civil"])
    v = services.verification(person, on=person.valid_from - timedelta(days=1))
    assert v["verdict"] == "not_yet_valid" and v["holder"] == "张*三"
    assert "440802" not in str(v)




# ----------------------------------------------------------------------------- issued on approval

def _approve(people, item):
    from bianmin.cases import services as case_services

    case = case_services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                            materials={m.pk: {"at_window": True} for m in item.materials.all()})
    case = case_services.accept_case(case, actor=people["clerk"].user)
    case_services.complete_task(case.tasks.get(), actor=people["reviewer"].user, opinion="材料齐全")
    return case_services.decide_case(case, actor=people["approver"].user, approved=True, reasons="符合法定条件")


def test_approving_a_case_issues_its_licence(people, make_item, licence_types):
    item = make_item(audience="both", name="结婚登记", result_name="结婚证", result_licence_type="jhz")
    case = _approve(people, item)
    licence = Licence.objects.get()
    citizen = people["citizen"]
    assert (licence.licence_type.code, licence.holder_name, licence.holder_id_number) == ("jhz", citizen.name, citizen.id_number)
    assert (licence.case_number, licence.issuer_id, licence.issued_on) == (case.number, case.department_id, case.decided_on)
    assert licence.surface["办件编号"] == case.number and licence.surface["办理结果"] == "结婚证"
    assert services.verification(licence)["current"]


def test_approving_a_case_without_a_licence_type_issues_none(people, make_item, licence_types):
    _approve(people, make_item(audience="both", result_licence_type=""))
    assert not Licence.objects.exists()


def test_the_periodic_tick_expires_licences(issue, monkeypatch):
    from bianmin.supervision import tasks

    monkeypatch.setattr(services, "today", lambda: date(2026, 3, 10))
    ending = issue(valid_from=date(2021, 1, 1), issued_on=date(2021, 1, 1), valid_until=date(2026, 3, 15))
    assert tasks.tick()["licences_expired"] == 0
    monkeypatch.setattr(services, "today", lambda: date(2026, 3, 16))  # the day after its last day
    assert tasks.tick()["licences_expired"] == 1
    assert tasks.tick()["licences_expired"] == 0
    ending.refresh_from_db()
    assert ending.status == LicenceStatus.EXPIRED


def test_is_current_is_the_rule_of_the_current_query():
    """One rule (T6): the predicate for one licence answers as `selectors.current` filters; a licence whose
    validity begins tomorrow is not current yet (the personal page said it was)."""
    from datetime import date

    from bianmin.licences import selectors
    from bianmin.licences.models import Licence, LicenceStatus

    on = date(2026, 12, 7)
    cases = [
        (LicenceStatus.VALID, date(2026, 1, 1), None, True),                 # long-term
        (LicenceStatus.VALID, date(2026, 1, 1), date(2026, 12, 7), True),    # its last day
        (LicenceStatus.VALID, date(2026, 1, 1), date(2026, 12, 6), False),   # ended yesterday
        (LicenceStatus.VALID, date(2026, 12, 8), None, False),               # begins tomorrow
        (LicenceStatus.REVOKED, date(2026, 1, 1), None, False),
    ]
    for status, start, end, expected in cases:
        assert selectors.is_current(Licence(status=status, valid_from=start, valid_until=end), on) is expected

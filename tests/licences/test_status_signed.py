"""Issue 11.5 / 10.9: a licence's status is signed by its issuer's seal, so a database writer who flips a
revoked licence back to valid (or a valid one to anything) is reported as altered, on the page and in
the API; a revocation undone together with its signature is caught by the revocation's audit entry."""

from datetime import timedelta

import pytest
from django.db import connection

from bianmin.core import audit
from bianmin.licences import services
from bianmin.licences.models import Licence
from bianmin.org.models import Role
from tests.conftest import make_staff

API = "/api/v1/licences/verify"


@pytest.fixture
def licence(licence_types, departments, holders):
    name, number = holders["company"]
    return services.issue_licence(licence_type=licence_types["spjyxkz"], holder_name=name, holder_id_number=number,
                                  issuer=departments["market"])


@pytest.fixture
def approver(departments):
    return make_staff("market_approver", departments["market"], Role.APPROVER)


def _sql(statement, params):
    with connection.cursor() as cur:
        cur.execute(statement, params)


def _seen(client, licence):
    html = client.get(f"/licences/verify/{licence.identifier}/").content.decode()
    body = client.get(API, {"identifier": licence.identifier}).json()
    return html, body


def _assert_altered(client, licence):
    html, body = _seen(client, licence)
    assert "核验未通过" in html and "状态" in html and "真实有效" not in html
    assert (body["verdict"], body["current"], body["genuine"], body["status_unaltered"]) == ("altered", False, False, False)
    assert "状态可能被篡改" in body["message"]


def test_an_issued_licence_has_its_valid_status_signed(client, licence):
    html, body = _seen(client, licence)
    assert "真实有效" in html
    assert (body["verdict"], body["unaltered"], body["status_unaltered"]) == ("current", True, True)
    stored = Licence.objects.get(pk=licence.pk)
    assert stored.status_seal_id == licence.seal_id and len(stored.status_signature) == 128


def test_a_revocation_flipped_back_by_sql_is_reported_altered(client, licence, approver):
    services.revoke_licence(licence, "经营场所已不存在", approver.user)
    html, body = _seen(client, licence)
    assert body["verdict"] == "revoked" and "已注销" in html
    _sql("UPDATE licences_licence SET status = 'valid' WHERE id = %s", [licence.pk])
    _assert_altered(client, licence)
    # the revocation's time and reason wiped too: still altered
    _sql("UPDATE licences_licence SET revoked_at = NULL, revoke_reason = '' WHERE id = %s", [licence.pk])
    _assert_altered(client, licence)


def test_a_revoked_licence_whose_revocation_is_deleted_is_reported_altered(client, licence, approver):
    """Status left at revoked but the revocation's record (time, reason) deleted: the signed status no longer matches."""
    services.revoke_licence(licence, "经营场所已不存在", approver.user)
    _sql("UPDATE licences_licence SET revoked_at = NULL, revoke_reason = '' WHERE id = %s", [licence.pk])
    _assert_altered(client, licence)


def test_an_earlier_signed_status_put_back_is_caught_by_the_audit_chain(client, licence, approver, capsys):
    """The attacker saved the row before the revocation and writes it back whole, old status signature
    included: the signatures match, but the revocation's entry is still in the keyed audit chain. Deleting
    that entry as well breaks the chain, which `bianmin audit verify` (and every checkpoint) reports."""
    before = Licence.objects.values("status", "status_signature", "status_seal_id", "revoked_at", "revoke_reason").get(pk=licence.pk)
    services.revoke_licence(licence, "经营场所已不存在", approver.user)
    audit.record("later.work")  # business goes on after the revocation
    _sql("UPDATE licences_licence SET status = %s, status_signature = %s, status_seal_id = %s, revoked_at = %s, revoke_reason = %s "
         "WHERE id = %s", [*before.values(), licence.pk])
    _assert_altered(client, licence)

    from bianmin import cli
    from bianmin.core.models import AuditEntry

    entry = AuditEntry.objects.get(action="licence.revoke", object_id=str(licence.pk))
    _sql("DELETE FROM core_auditentry WHERE id = %s", [entry.id])
    assert cli.main(["audit", "verify"]) == 1
    assert "审计日志被篡改" in capsys.readouterr().out


@pytest.mark.parametrize("status", ["revoked", "superseded", "expired"])
def test_a_valid_licence_flipped_to_another_status_is_reported_altered(client, licence, status):
    _sql("UPDATE licences_licence SET status = %s WHERE id = %s", [status, licence.pk])
    _assert_altered(client, licence)


@pytest.mark.parametrize("change", [
    "status_signature = ''",
    "status_seal_id = NULL",
    "status_signature = signature",  # the metadata's signature moved over
])
def test_a_missing_or_moved_status_signature_is_reported_altered(client, licence, change):
    _sql(f"UPDATE licences_licence SET {change} WHERE id = %s", [licence.pk])
    _assert_altered(client, licence)


def test_the_metadata_signature_replaced_is_reported_altered(client, licence):
    _sql("UPDATE licences_licence SET signature = status_signature WHERE id = %s", [licence.pk])
    _assert_altered_any(client, licence)


def test_a_status_signed_by_another_departments_seal_is_reported_altered(client, licence, licence_types, departments, holders):
    other = services.issue_licence(licence_type=licence_types["jhz"], holder_name=holders["person"][0],
                                   holder_id_number=holders["person"][1], issuer=departments["chikan_civil"])
    # a status that another department's seal did sign, for this identifier
    licence.status_seal = other.seal
    licence.status_signature = services.seals.sign(other.seal, services.status_bytes(licence))
    _sql("UPDATE licences_licence SET status_seal_id = %s, status_signature = %s WHERE id = %s",
         [other.seal_id, licence.status_signature, licence.pk])
    _assert_altered(client, licence)


def test_lawful_expiry_and_supersession_still_verify(client, licence, licence_types, departments, holders, approver):
    """The nightly expiry is not signed (it follows from the signed end date); a supersession signs its status."""
    services.expire_licences(on=licence.valid_until + timedelta(days=1))
    services_on = licence.valid_until + timedelta(days=1)
    stored = services.find_by_identifier(licence.identifier)
    v = services.verification(stored, on=services_on)
    assert (v["verdict"], v["status_unaltered"]) == ("expired", True)

    other = services.issue_licence(licence_type=licence_types["yyzz"], holder_name=holders["company"][0],
                                   holder_id_number=holders["company"][1], issuer=departments["market"])
    services.supersede_licence(other, approver.user, holder_name="湛江市海鲜餐饮集团有限公司")
    html, body = _seen(client, other)
    assert (body["verdict"], body["genuine"], body["status_unaltered"]) == ("superseded", True, True)
    assert "已换发" in html


def test_the_metadata_changed_is_still_reported_as_such(client, licence):
    """The status signature covers the metadata too; when it fails, the metadata's own signature decides the message."""
    _sql("UPDATE licences_licence SET holder_name = '别的公司' WHERE id = %s", [licence.pk])
    html, body = _seen(client, licence)
    assert (body["verdict"], body["unaltered"], body["status_unaltered"]) == ("altered", False, False)
    assert "证照信息与颁证机构的电子签章不符" in body["message"] and "真实有效" not in html


def test_the_seal_swapped_for_another_version_is_reported_altered(client, licence, departments):
    from bianmin.licences import seals

    admin = make_staff("market_sysadmin2", departments["market"], Role.ADMIN)
    newer = seals.rotate_seal(departments["market"], admin.user)
    _sql("UPDATE licences_licence SET seal_id = %s WHERE id = %s", [newer.pk, licence.pk])
    _assert_altered_any(client, licence)


def _assert_altered_any(client, licence):
    html, body = _seen(client, licence)
    assert (body["verdict"], body["current"]) == ("altered", False) and "真实有效" not in html


def test_a_status_signed_before_the_seal_was_rotated_still_verifies(client, licence, approver, departments):
    from bianmin.licences import seals

    admin = make_staff("market_sysadmin", departments["market"], Role.ADMIN)
    seals.rotate_seal(departments["market"], admin.user)
    assert _seen(client, licence)[1]["verdict"] == "current"
    services.revoke_licence(licence, "注销", approver.user)  # signed by the new seal
    body = _seen(client, licence)[1]
    assert body["verdict"] == "revoked" and Licence.objects.get(pk=licence.pk).status_seal_id != licence.seal_id

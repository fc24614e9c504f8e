"""The public verification page and GET /api/v1/licences/verify: genuine, revoked, altered, no personal data."""

import pytest
from django.db import connection

from bianmin.licences import identifiers, services
from bianmin.licences.models import Licence
from bianmin.org.models import Role
from tests.conftest import make_staff

API = "/api/v1/licences/verify"


@pytest.fixture
def licence(licence_types, departments, holders):
    name, number = holders["person"]
    return services.issue_licence(licence_type=licence_types["jhz"], holder_name=name, holder_id_number=number,
                                  issuer=departments["chikan_civil"], surface={"登记日期": "2026-05-20"})


def _page(client, licence):
    return client.get(f"/licences/verify/{licence.identifier}/")


def test_genuine_licence_page_and_api(client, licence, holders):
    r = _page(client, licence)
    assert r.status_code == 200
    html = r.content.decode()
    assert "真实有效" in html and "结婚证" in html and "湛江市赤坎区民政局" in html
    assert "张*三" in html
    assert "张小三" not in html and holders["person"][1] not in html and holders["person"][1][:14] not in html
    assert "no-store" in r["Cache-Control"]
    body = client.get(API, {"identifier": licence.identifier}).json()
    assert (body["genuine"], body["unaltered"], body["current"], body["verdict"]) == (True, True, True, "current")
    assert body["holder"] == "张*三" and body["issuer"] == "湛江市赤坎区民政局"
    assert body["valid_until"] is None  # a marriage certificate has no end
    assert holders["person"][1] not in str(body) and "张小三" not in str(body)


def test_revocation_shows_at_once(client, licence, departments):
    assert _page(client, licence).status_code == 200  # seen (and any cache warmed) before the revocation
    approver = make_staff("civil_approver", departments["chikan_civil"], Role.APPROVER)
    services.revoke_licence(licence, "婚姻登记被撤销", approver.user)
    html = _page(client, licence).content.decode()
    assert "已注销" in html and "真实有效" not in html
    body = client.get(API, {"identifier": licence.identifier}).json()
    assert (body["genuine"], body["current"], body["verdict"], body["status"]) == (True, False, "revoked", "revoked")
    assert "婚姻登记被撤销" not in html + str(body)  # the reason is the department's record, not public


@pytest.mark.parametrize("column, value", [
    ("holder_name", "王五"), ("valid_until", "2099-12-31"), ("issued_on", "2020-01-01"), ("number", "X0001"),
])
def test_a_row_altered_in_the_database_is_reported_as_altered(client, licence, column, value):
    with connection.cursor() as cur:
        cur.execute(f"UPDATE licences_licence SET {column} = %s WHERE id = %s", [value, licence.pk])
    html = _page(client, licence).content.decode()
    assert "核验未通过" in html and "篡改" in html
    body = client.get(API, {"identifier": licence.identifier}).json()
    assert (body["genuine"], body["unaltered"], body["current"], body["verdict"]) == (False, False, False, "altered")


def test_surface_altered_in_the_database_is_reported(client, licence):
    with connection.cursor() as cur:
        cur.execute("UPDATE licences_licence SET surface = %s WHERE id = %s", ['{"登记日期": "2026-05-21"}', licence.pk])
    assert client.get(API, {"identifier": licence.identifier}).json()["verdict"] == "altered"


def test_signature_of_another_licence_does_not_pass(client, licence, licence_types, departments, holders):
    other = services.issue_licence(licence_type=licence_types["jhz"], holder_name="李四", holder_id_number=holders["person"][1],
                                   issuer=departments["chikan_civil"])
    Licence.objects.filter(pk=licence.pk).update(signature=other.signature)
    assert client.get(API, {"identifier": licence.identifier}).json()["verdict"] == "altered"


def test_seal_of_another_department_is_not_genuine(client, licence, departments):
    from bianmin.licences import seals

    # someone re-signs the row with another department's (valid) key: the metadata verifies under that key,
    # but the issuer's status signature covers the seal and signature it was issued with: neither genuine nor unaltered
    police_seal = seals.active_seal(departments["police"])
    Licence.objects.filter(pk=licence.pk).update(seal=police_seal, signature=seals.sign(police_seal, services.canonical_bytes(licence)))
    body = client.get(API, {"identifier": licence.identifier}).json()
    assert (body["unaltered"], body["genuine"], body["verdict"]) == (False, False, "altered")
    assert "电子签章不符" in body["message"]


def test_form_redirects_to_the_licence_page(client, licence):
    r = client.get("/licences/verify/", {"identifier": " " + licence.identifier.lower() + " "})
    assert r.status_code == 302 and r["Location"] == f"/licences/verify/{licence.identifier}/"
    r = client.get("/licences/verify/")
    assert r.status_code == 200 and 'for="identifier"' in r.content.decode()


@pytest.mark.parametrize("bad", ["abc", "1.2.156.3005.2.X.Y.1.1.Z", "%00", "x" * 3000, "1.2.156.3005.2.JHZ.11440800007217744T.00000001.1.0"])
def test_malformed_identifiers_get_400_in_chinese(client, db, bad):
    r = client.get("/licences/verify/", {"identifier": bad})
    assert r.status_code == 400 and "证照标识" in r.content.decode()
    r = client.get(API, {"identifier": bad})
    assert r.status_code in (400, 422)
    assert r.json()["code"] in ("invalid_licence_identifier", "invalid_request")


def test_unknown_identifier_is_404(client, db):
    ident = identifiers.make_identifier("JHZ", "11440800007217744T", 5, 1)
    assert client.get(f"/licences/verify/{ident}/").status_code == 404
    r = client.get(API, {"identifier": ident})
    assert r.status_code == 404 and r.json()["code"] == "licence_not_found"
    assert client.get(API).status_code == 422


def test_verification_is_one_query_after_the_first(client, licence, django_assert_max_num_queries):
    _page(client, licence)  # the seal's public key object is built once per process
    with django_assert_max_num_queries(1):
        assert client.get(API, {"identifier": licence.identifier}).status_code == 200
    with django_assert_max_num_queries(1):
        assert _page(client, licence).status_code == 200

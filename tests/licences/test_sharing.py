"""Share links: the holder chooses how long and what; the public page shows only that, with the
verification result; expired or revoked links are 410; every opening is a use the holder sees."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bianmin.core.errors import NotFound, ValidationError
from bianmin.core.models import AuditEntry
from bianmin.licences import services as licence_services
from bianmin.licences import sharing
from bianmin.licences.models import LicenceUse, ShareLink
from bianmin.org.models import Role
from tests.conftest import make_staff


@pytest.fixture
def person(people):
    return people["citizen"]  # 张三, 44080219900101123X-style number made valid by the fixture


@pytest.fixture
def licence(person, licence_types, departments):
    return licence_services.issue_licence(licence_type=licence_types["jhz"], holder_name=person.name, holder_id_number=person.id_number,
                                          issuer=departments["chikan_civil"], surface={"登记日期": "2020-05-20", "配偶": "李梅"})


def test_link_shows_only_the_chosen_fields_and_logs_each_opening(client, person, licence):
    link, token = sharing.create_share_link(licence, holder=person, hours=24, show_fields=["holder_name", "surface:登记日期"],
                                            actor=person.user)
    assert len(token) >= 40 and link.token_hash == sharing.hash_token(token) and token not in link.token_hash
    assert timedelta(hours=23, minutes=59) < link.expires_at - timezone.now() <= timedelta(hours=24)
    response = client.get(f"/licences/shared/{token}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "真实有效" in body and "结婚证" in body
    assert "张三" in body and "2020-05-20" in body
    assert person.id_number not in body and "李梅" not in body and licence.number not in body  # not chosen
    assert "no-store" in response["Cache-Control"] and response["Referrer-Policy"] == "no-referrer"
    client.get(f"/licences/shared/{token}/")
    uses = list(LicenceUse.objects.filter(licence=licence, via=LicenceUse.Via.SHARE_LINK).order_by("id"))
    assert len(uses) == 2
    entries = AuditEntry.objects.filter(action="licence.use").order_by("id")  # each opening in the audit log too
    assert [(e.object_id, e.actor, e.data["via"], e.data["use"]) for e in entries] == [
        (str(licence.pk), "anonymous", "share_link", use.pk) for use in uses]


def test_expired_revoked_and_unknown_links(client, person, licence):
    link, token = sharing.create_share_link(licence, holder=person, hours=1, show_fields=[], actor=person.user)
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(f"/licences/shared/{token}/")
    assert response.status_code == 410 and "已失效" in response.content.decode() and "过期" in response.content.decode()
    link2, token2 = sharing.create_share_link(licence, holder=person, hours=720, show_fields=["number"], actor=person.user)
    assert client.get(f"/licences/shared/{token2}/").status_code == 200
    sharing.revoke(link2.pk, holder=person, actor=person.user)
    response = client.get(f"/licences/shared/{token2}/")
    assert response.status_code == 410 and "持证人已撤销该分享链接" in response.content.decode()
    for bad in ("nosuchtoken", "x" * 500, "%E4%B8%AD"):
        assert client.get(f"/licences/shared/{bad}/").status_code == 404
    assert client.get("/licences/shared/%00/").status_code == 400  # NUL is refused before any view
    assert not LicenceUse.objects.filter(via=LicenceUse.Via.SHARE_LINK).exclude(licence=licence).exists()
    assert LicenceUse.objects.filter(via=LicenceUse.Via.SHARE_LINK).count() == 1  # only the one working opening
    assert AuditEntry.objects.filter(action="licence.use").count() == 1


def test_a_revocation_of_the_licence_shows_at_once_on_the_shared_page(client, person, licence, departments):
    _, token = sharing.create_share_link(licence, holder=person, hours=24, show_fields=["holder_name"], actor=person.user)
    assert "真实有效" in client.get(f"/licences/shared/{token}/").content.decode()
    approver = make_staff("civil_approver", departments["chikan_civil"], Role.APPROVER)
    licence_services.revoke_licence(licence, "登记错误", approver.user)
    body = client.get(f"/licences/shared/{token}/").content.decode()
    assert "已注销" in body and "真实有效" not in body


def test_only_the_holder_shares_and_revokes(person, licence, people):
    other = people["other"]
    with pytest.raises(NotFound):
        sharing.create_share_link(licence, holder=other, hours=1, show_fields=[], actor=other.user)
    link, _ = sharing.create_share_link(licence, holder=person, hours=1, show_fields=[], actor=person.user)
    for bad_id in (link.pk, "abc", -1, 2**70):
        with pytest.raises(NotFound):
            sharing.revoke(bad_id, holder=other if bad_id == link.pk else person, actor=other.user)
    link.refresh_from_db()
    assert link.revoked_at is None


@pytest.mark.parametrize("hours", [0, 721, -5, "abc", 1.5, None, True])
def test_duration_must_be_1_hour_to_30_days(person, licence, hours):
    with pytest.raises(ValidationError) as exc:
        sharing.create_share_link(licence, holder=person, hours=hours, show_fields=[], actor=person.user)
    assert exc.value.code == "invalid_duration"
    assert not ShareLink.objects.exists()


def test_only_known_fields_can_be_shown(person, licence):
    for fields in (["password"], ["surface:不存在"], [1], "holder_name"):
        with pytest.raises(ValidationError):
            sharing.create_share_link(licence, holder=person, hours=1, show_fields=fields, actor=person.user)
    assert not ShareLink.objects.exists()

"""The holder API (/api/v1/my/…): one's own licences only; another holder's are 404; staff are not holders."""

import pytest

from bianmin.core.services import issue_token
from bianmin.licences import services as licence_services
from bianmin.licences import sharing
from bianmin.licences.models import LicenceUse, ShareLink


@pytest.fixture
def licences(people, licence_types, departments):
    def issue(applicant, **kw):
        return licence_services.issue_licence(licence_type=licence_types["jhz"], holder_name=applicant.name,
                                              holder_id_number=applicant.id_number, issuer=departments["chikan_civil"], **kw)

    return {"mine": issue(people["citizen"], surface={"登记日期": "2020-05-20"}), "theirs": issue(people["other"])}


def auth(user):
    return {"HTTP_AUTHORIZATION": f"Bearer {issue_token(user, 'test')}"}


def test_my_licences_lists_only_mine(client, people, licences):
    response = client.get("/api/v1/my/licences", **auth(people["citizen_user"]))
    assert response.status_code == 200
    rows = response.json()
    assert [r["identifier"] for r in rows] == [licences["mine"].identifier]
    assert rows[0]["current"] is True and rows[0]["status_label"] == "有效" and rows[0]["surface"] == {"登记日期": "2020-05-20"}
    assert rows[0]["pdf"] == f"/api/v1/my/licences/{licences['mine'].identifier}/pdf"


def test_pdf_of_my_licence_and_404_for_anyone_elses(client, people, licences):
    headers = auth(people["citizen_user"])
    response = client.get(f"/api/v1/my/licences/{licences['mine'].identifier}/pdf", **headers)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    for identifier in (licences["theirs"].identifier, "nonsense", "1" * 300):
        response = client.get(f"/api/v1/my/licences/{identifier}/pdf", **headers)
        assert response.status_code == 404 and response.json()["code"] == "licence_not_found"


def test_staff_are_not_holders(client, people, licences):
    response = client.get("/api/v1/my/licences", **auth(people["clerk"].user))
    assert response.status_code == 403 and response.json()["code"] == "applicant_required"
    assert client.get("/api/v1/my/licences").status_code == 401


def test_share_link_round_trip(client, people, licences):
    headers = auth(people["citizen_user"])
    url = f"/api/v1/my/licences/{licences['mine'].identifier}/share-links"
    response = client.post(url, {"hours": 72, "show_fields": ["holder_name", "validity"]}, content_type="application/json", **headers)
    assert response.status_code == 201
    made = response.json()
    assert made["state"] == "active" and made["show_fields"] == ["holder_name", "validity"]
    assert made["url"].startswith("http://testserver/licences/shared/")
    page = client.get(made["url"].removeprefix("http://testserver"))
    assert page.status_code == 200 and "张三" in page.content.decode()
    listed = client.get(url, **headers).json()
    assert [x["id"] for x in listed] == [made["id"]] and "url" not in listed[0]  # the token is shown once
    # the other holder can neither list nor revoke it
    other = auth(people["other_user"])
    assert client.get(url, **other).status_code == 404
    assert client.post(f"/api/v1/my/share-links/{made['id']}/revoke", **other).status_code == 404
    response = client.post(f"/api/v1/my/share-links/{made['id']}/revoke", **headers)
    assert response.status_code == 200 and response.json()["state"] == "revoked"
    assert client.get(made["url"].removeprefix("http://testserver")).status_code == 410


@pytest.mark.parametrize("body,status,code", [
    ({"hours": 0}, 400, "invalid_duration"),
    ({"hours": 721}, 400, "invalid_duration"),
    ({"hours": "abc"}, 422, "invalid_request"),
    ({"hours": 10**30}, 422, "invalid_request"),
    ({"hours": 1, "show_fields": ["secret"]}, 400, "invalid_field"),
    ({"hours": 1, "extra": 1}, 422, "invalid_request"),
    ({}, 422, "invalid_request"),
])
def test_bad_share_requests_change_nothing(client, people, licences, body, status, code):
    response = client.post(f"/api/v1/my/licences/{licences['mine'].identifier}/share-links", body,
                           content_type="application/json", **auth(people["citizen_user"]))
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not ShareLink.objects.exists()


def test_licence_uses_show_who_used_my_licence(client, people, licences, departments):
    LicenceUse.objects.create(licence=licences["mine"], via=LicenceUse.Via.CASE, department=departments["market"],
                              case_number="440800-20261126-000001", purpose="办理“食品经营许可”免提交")
    LicenceUse.objects.create(licence=licences["theirs"], via=LicenceUse.Via.CASE, department=departments["market"])
    link, token = sharing.create_share_link(licences["mine"], holder=people["citizen"], hours=1, show_fields=[],
                                            actor=people["citizen_user"])
    client.get(f"/licences/shared/{token}/")
    response = client.get("/api/v1/my/licence-uses", **auth(people["citizen_user"]))
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2
    assert [(r["via"], r["user"]) for r in data["results"]] == [("share_link", "持证人分享链接的访问者"),
                                                                 ("case", "湛江市市场监督管理局")]
    assert data["results"][1]["case_number"] == "440800-20261126-000001"
    for page in ("x", "0", "9999999999"):
        assert client.get(f"/api/v1/my/licence-uses?page={page}", **auth(people["citizen_user"])).status_code == 400


def test_licence_uses_are_one_query_per_page(client, people, licences, departments, django_assert_max_num_queries):
    LicenceUse.objects.bulk_create([LicenceUse(licence=licences["mine"], via=LicenceUse.Via.CASE, department=departments["market"])
                                    for _ in range(30)])
    headers = auth(people["citizen_user"])
    with django_assert_max_num_queries(6):  # token, its last-used stamp, the page, the count
        assert len(client.get("/api/v1/my/licence-uses?page_size=30", **headers).json()["results"]) == 30

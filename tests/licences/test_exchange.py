"""The data-sharing API (T15) driven over real HTTP against a live server: per-client authentication,
scopes, holder look-ups that need id number and name together, and a log of every call."""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

import bianmin.licences.exchange_admin  # noqa: F401  (registers the admin pages; licences/admin.py imports it too)
from bianmin.core.identities import uscc_with_check
from bianmin.licences import services as licence_services
from bianmin.licences.exchange import create_exchange_client, hash_secret
from bianmin.licences.models import ExchangeCall, ExchangeClient, LicenceUse
from bianmin.org.models import Role
from tests.conftest import make_staff

BY_ID, BY_HOLDER = ExchangeClient.Scope.BY_IDENTIFIER, ExchangeClient.Scope.BY_HOLDER


def call(base, path, *, client_id=None, secret=None, header=None, **params):
    """GET with the parameters in the query; for the holder look-up ("licences") a POST with them as
    its JSON body, as the API requires."""
    if path == "licences":
        request = urllib.request.Request(f"{base}/api/v1/exchange/licences", data=json.dumps(params).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
    else:
        url = f"{base}/api/v1/exchange/{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url)
    if client_id is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode())
    if header is not None:
        request.add_header("Authorization", header)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


@pytest.fixture
def setup(transactional_db, departments, licence_types, holders):
    name, uscc = holders["company"]
    market = departments["market"]
    valid = licence_services.issue_licence(licence_type=licence_types["yyzz"], holder_name=name, holder_id_number=uscc, issuer=market)
    food = licence_services.issue_licence(licence_type=licence_types["spjyxkz"], holder_name=name, holder_id_number=uscc, issuer=market)
    approver = make_staff("market_approver", market, Role.APPROVER)
    licence_services.revoke_licence(food, "停止经营", approver.user)
    province, secret = create_exchange_client("广东省政务数据共享平台", [BY_ID, BY_HOLDER], departments["police"])
    narrow, narrow_secret = create_exchange_client("只按标识查询的系统", [BY_ID])
    return {"valid": valid, "revoked": food, "name": name, "uscc": uscc, "province": province, "secret": secret,
            "narrow": narrow, "narrow_secret": narrow_secret, "police": departments["police"]}


def test_secret_is_stored_only_as_a_hash(setup):
    client = setup["province"]
    assert client.secret_hash == hash_secret(setup["secret"]) and setup["secret"] not in client.secret_hash
    assert client.client_id.startswith("bm_") and len(setup["secret"]) >= 40


def test_lookup_by_identifier_is_logged_as_a_use(live_server, setup):
    s = setup
    status, body, headers = call(live_server.url, f"licences/{s['valid'].identifier}", client_id=s["province"].client_id,
                                 secret=s["secret"], purpose="开办企业一件事核验营业执照")
    assert status == 200
    assert (body["identifier"], body["status"], body["current"], body["holder_id_number"]) == (
        s["valid"].identifier, "valid", True, s["uscc"])
    assert body["licence_type"]["code"] == "yyzz" and body["signature"] == s["valid"].signature
    assert headers["Cache-Control"] == "no-store"
    call_row = ExchangeCall.objects.get()
    assert (call_row.client, call_row.status, call_row.result_count, call_row.endpoint) == (s["province"], 200, 1, "licences/by_identifier")
    use = LicenceUse.objects.get()
    assert (use.licence, use.via, use.client, use.department, use.purpose) == (
        s["valid"], "exchange", s["province"], s["police"], "开办企业一件事核验营业执照")
    # a revoked licence is returned as revoked, not hidden
    status, body, _ = call(live_server.url, f"licences/{s['revoked'].identifier}", client_id=s["province"].client_id,
                           secret=s["secret"], purpose="核验")
    assert (status, body["status"], body["current"]) == (200, "revoked", False)


def test_refused_calls_are_logged_too(live_server, setup):
    s = setup
    path = f"licences/{s['valid'].identifier}"
    status, body, headers = call(live_server.url, path, purpose="x")
    assert (status, body["code"]) == (401, "exchange_unauthenticated")
    assert headers["WWW-Authenticate"].startswith("Basic")
    status, body, _ = call(live_server.url, path, client_id=s["province"].client_id, secret="wrong", purpose="x")
    assert status == 401 and body["message"] == "接入标识或密钥不正确"
    for header in ("Basic !!!", "Bearer abc", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic " + "A" * 1000):
        assert call(live_server.url, path, header=header, purpose="x")[0] == 401
    status, body, _ = call(live_server.url, "licences", client_id=s["narrow"].client_id, secret=s["narrow_secret"],
                           holder_id_number=s["uscc"], holder_name=s["name"], purpose="x")
    assert (status, body["code"]) == (403, "exchange_scope_denied")
    status, body, _ = call(live_server.url, path, client_id=s["province"].client_id, secret=s["secret"])
    assert (status, body["code"]) == (400, "purpose_required")
    status, body, _ = call(live_server.url, "licences/1.2.156.3005.2.nosuch", client_id=s["province"].client_id,
                           secret=s["secret"], purpose="x")
    assert (status, body["code"]) == (404, "licence_not_found")
    ExchangeClient.objects.filter(pk=s["province"].pk).update(active=False)
    status, body, _ = call(live_server.url, path, client_id=s["province"].client_id, secret=s["secret"], purpose="x")
    assert (status, body["message"]) == (401, "该接入系统已停用")
    statuses = list(ExchangeCall.objects.order_by("id").values_list("status", "client_id"))
    assert statuses == [(401, None), (401, s["province"].pk), (401, None), (401, None), (401, None), (401, None),
                        (403, s["narrow"].pk), (400, s["province"].pk), (404, s["province"].pk), (401, s["province"].pk)]
    assert not LicenceUse.objects.exists()  # nothing was handed out


def test_lookup_by_holder_needs_number_and_name(live_server, setup):
    s = setup
    auth = {"client_id": s["province"].client_id, "secret": s["secret"], "purpose": "税务登记核验"}
    status, body, _ = call(live_server.url, "licences", holder_id_number=s["uscc"], holder_name=s["name"], **auth)
    assert status == 200 and [r["identifier"] for r in body["results"]] == [s["valid"].identifier]  # only the current one
    status, body, _ = call(live_server.url, "licences", holder_id_number=s["uscc"], holder_name=s["name"],
                           include_invalid="true", **auth)
    assert status == 200 and {r["status"] for r in body["results"]} == {"valid", "revoked"}
    status, body, _ = call(live_server.url, "licences", holder_id_number=s["uscc"], holder_name="别的公司", **auth)
    assert (status, body["count"]) == (200, 0)  # a number alone reveals nothing
    status, body, _ = call(live_server.url, "licences", holder_id_number=s["uscc"], holder_name=s["name"], type="jhz", **auth)
    assert (status, body["count"]) == (200, 0)
    for params, code in (({"holder_id_number": "123"}, "identity_length"),
                         ({"holder_id_number": uscc_with_check("91440800MA4W12345")[:17] + "0", "holder_name": "x"}, None),
                         ({"holder_name": s["name"]}, "holder_id_required"),
                         ({"holder_id_number": s["uscc"]}, "holder_name_required"),
                         ({"holder_id_number": s["uscc"], "holder_name": s["name"], "include_invalid": "maybe"}, "invalid_parameter")):
        status, body, _ = call(live_server.url, "licences", **params, **auth)
        assert status == 400 and (code is None or body["code"] == code), (params, body)
    uses = LicenceUse.objects.filter(via="exchange")
    assert uses.count() == 3  # 1 + 2 licences returned; refused and empty answers hand out nothing
    logged = ExchangeCall.objects.filter(endpoint="licences/by_holder").order_by("id").first()
    assert s["uscc"] not in logged.query and s["name"] not in logged.query  # the log masks the holder


def test_create_exchange_client_validates(db):
    from bianmin.core.errors import ValidationError

    for name, scopes in (("", [BY_ID]), ("系统", []), ("系统", ["licence:everything"]), ("x" * 101, [BY_ID])):
        with pytest.raises(ValidationError):
            create_exchange_client(name, scopes)
    assert not ExchangeClient.objects.exists()


def test_management_command_prints_id_and_secret_once(db):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("create_exchange_client", "省平台", "--scope", BY_ID, stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines() if "=" in line)
    client = ExchangeClient.objects.get(client_id=lines["client_id"])
    assert client.scopes == [BY_ID] and client.secret_hash == hash_secret(lines["secret"])


def test_admin_creates_a_client_and_shows_its_secret_once(client, db):
    from django.contrib.auth.models import User

    User.objects.create_superuser("root", password="Bianmin!2026")
    client.login(username="root", password="Bianmin!2026")
    response = client.post("/admin/licences/exchangeclient/add/", {"name": "省平台", "scopes": [BY_HOLDER], "active": "on"}, follow=True)
    assert response.status_code == 200
    made = ExchangeClient.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert any(made.client_id in m and "只显示这一次" in m for m in shown)
    secret = shown[0].split("密钥 ")[1].split(" ")[0]
    assert made.secret_hash == hash_secret(secret) and made.scopes == [BY_HOLDER]


def test_holder_lookup_by_get_is_refused_and_reads_nothing(live_server, setup):
    """The identity number must not travel in the address (it lands in access logs): GET answers 405."""
    s = setup
    query = urllib.parse.urlencode({"holder_id_number": s["uscc"], "holder_name": s["name"], "purpose": "核验"})
    request = urllib.request.Request(f"{live_server.url}/api/v1/exchange/licences?{query}")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{s['province'].client_id}:{s['secret']}".encode()).decode())
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 405 and caught.value.headers["Allow"] == "POST"
    assert json.loads(caught.value.read())["code"] == "holder_lookup_needs_post"
    assert not LicenceUse.objects.exists()  # nothing handed out
    logged = ExchangeCall.objects.get()
    assert (logged.status, logged.endpoint) == (405, "licences/by_holder")
    assert s["uscc"] not in logged.query and s["name"] not in logged.query


def test_holder_lookup_body_must_be_a_json_object_of_the_documented_fields(live_server, setup):
    s = setup
    auth = {"Authorization": "Basic " + base64.b64encode(f"{s['province'].client_id}:{s['secret']}".encode()).decode(),
            "Content-Type": "application/json"}
    for body, code in ((b"not json", "invalid_body"), (b"[1, 2]", "invalid_body"),
                       (json.dumps({"holder_id_number": s["uscc"], "holder_name": s["name"], "purpose": "x", "extra": 1}).encode(), "invalid_body"),
                       (json.dumps({"holder_id_number": 91440800, "holder_name": s["name"], "purpose": "x"}).encode(), "invalid_parameter")):
        request = urllib.request.Request(f"{live_server.url}/api/v1/exchange/licences", data=body, method="POST", headers=auth)
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert (caught.value.code, json.loads(caught.value.read())["code"]) == (400, code)
    assert list(ExchangeCall.objects.values_list("status", flat=True)) == [400, 400, 400, 400]
    assert not LicenceUse.objects.exists()

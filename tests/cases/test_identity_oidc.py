"""统一身份认证 over OpenID Connect (issue 11 point 1a), end to end against a real provider started on
localhost (oidc-provider-mock, a Flask/Authlib server in a thread): our side through Django's test
client, the provider's authorization form, token, keys and userinfo through real HTTP."""

import base64
import json
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client
from oidc_provider_mock import User as ProviderUser
from oidc_provider_mock import run_server_in_thread

from bianmin.cases import oidc, services
from bianmin.cases.models import Applicant
from bianmin.core.identities import resident_id_with_check, uscc_with_check
from bianmin.licences import services as licence_services
from bianmin.licences.models import LicenceType

PERSON_ID = resident_id_with_check("44080219750304002")
OTHER_ID = resident_id_with_check("44080319800808003")
COMPANY_ID = uscc_with_check("91440800MA4W67890")
REDIRECT = "http://testserver/account/oidc/callback/"
pytestmark = pytest.mark.django_db

USERS = [
    ProviderUser(sub="chen", claims={"name": "陈真名", "id_number": PERSON_ID, "phone_number": "13800001234"}),
    ProviderUser(sub="liu", claims={"name": "刘另一", "id_number": OTHER_ID}),
]


@pytest.fixture(scope="module")
def provider():
    import os

    before = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain HTTP on localhost, for the test provider only
    try:
        with run_server_in_thread(require_client_registration=True, require_nonce=True, user_claims=USERS) as server:
            url = f"http://localhost:{server.server_port}"
            reg = requests.post(f"{url}/oauth2/clients", json={"redirect_uris": [REDIRECT]}, timeout=10)
            reg.raise_for_status()
            yield {"url": url, **reg.json()}
    finally:
        if before is None:
            os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = before


@pytest.fixture
def configured(settings, provider):
    settings.OIDC_ISSUER = provider["url"]
    settings.OIDC_DISCOVERY_URL = ""
    settings.OIDC_CLIENT_ID = provider["client_id"]
    settings.OIDC_CLIENT_SECRET = provider["client_secret"]
    settings.OIDC_REDIRECT_URI = REDIRECT
    settings.OIDC_SCOPES = "openid profile phone"
    return provider


@pytest.fixture
def id_card(departments):
    return licence_services.issue_licence(licence_type=LicenceType.objects.get(code="jmsfz"), holder_name="陈真名",
                                          holder_id_number=PERSON_ID, issuer=departments["police"])


def go_to_provider(client, provider, **params):
    r = client.get("/account/oidc/start/", params)
    assert r.status_code == 302 and r["Location"].startswith(provider["url"] + "/oauth2/authorize?")
    return r["Location"]


def approve_at_provider(authorize_url, sub):
    """The person logs in at the provider (its form), which sends the browser back with a code."""
    r = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text[:300]
    back = urlsplit(r.headers["Location"])
    assert f"http://testserver{back.path}" == REDIRECT
    return dict(parse_qsl(back.query))


def login_via_provider(client, provider, sub, **params):
    return client.get("/account/oidc/callback/", approve_at_provider(go_to_provider(client, provider, **params), sub))


def test_the_request_carries_pkce_state_and_nonce(client, configured):
    q = parse_qs(urlsplit(go_to_provider(client, configured)).query)
    assert q["response_type"] == ["code"] and q["client_id"] == [configured["client_id"]]
    assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
    assert len(q["state"][0]) >= 32 and len(q["nonce"][0]) >= 32 and q["redirect_uri"] == [REDIRECT]
    pending = client.session[oidc.SESSION_KEY]
    assert pending["state"] == q["state"][0] and pending["nonce"] == q["nonce"][0]


def test_a_verified_login_creates_the_account_and_shows_the_licences(client, configured, id_card):
    r = login_via_provider(client, configured, "chen", next="/my/licences/")
    assert r.status_code == 302 and r["Location"] == "/my/licences/"
    a = Applicant.objects.get(id_number=PERSON_ID)
    assert (a.name, a.phone, a.verified_by, a.user.username) == ("陈真名", "13800001234", "oidc", PERSON_ID)
    assert not a.user.has_usable_password()
    html = client.get("/my/licences/").content.decode()
    assert id_card.number in html and "账号尚未实名核验" not in html
    # the second login finds the same account
    client.logout()
    login_via_provider(client, configured, "chen")
    assert User.objects.filter(username=PERSON_ID).count() == 1


def test_the_proven_person_takes_the_number_back_from_a_self_registered_account(client, configured, id_card):
    squatter = User.objects.create_user(username=PERSON_ID, password="Stranger!2026x")
    services.register_applicant(kind="person", name="冒名者", id_number=PERSON_ID, phone="13799990000", user=squatter)
    r = login_via_provider(client, configured, "chen")
    assert r.status_code == 302
    a = Applicant.objects.get(id_number=PERSON_ID)
    assert (a.name, a.phone, a.verified_by) == ("陈真名", "13800001234", "oidc")
    assert not Client().login(username=PERSON_ID, password="Stranger!2026x")
    assert id_card.number in client.get("/my/licences/").content.decode()


def test_a_window_record_under_another_name_is_not_taken_over(client, configured):
    services.register_applicant(kind="person", name="陈登记名", id_number=PERSON_ID)
    r = login_via_provider(client, configured, "chen")
    assert r.status_code == 409 and "与登记信息不一致" in r.content.decode()
    assert Applicant.objects.get(id_number=PERSON_ID).user_id is None and "_auth_user_id" not in client.session


def test_the_legal_representative_claims_the_enterprise(client, configured, departments):
    company = services.register_applicant(kind="legal_person", name="湛江市南海渔业有限公司", id_number=COMPANY_ID,
                                          legal_representative="陈真名", legal_representative_id_number=PERSON_ID)
    licence = licence_services.issue_licence(licence_type=LicenceType.objects.get(code="yyzz"), holder_name=company.name,
                                             holder_id_number=COMPANY_ID, issuer=departments["market"])
    # someone else, proven as themselves, is not the representative
    r = login_via_provider(Client(), configured, "liu", enterprise=COMPANY_ID)
    assert r.status_code == 409 and "不是该单位登记的法定代表人" in r.content.decode()
    company.refresh_from_db()
    assert company.user_id is None
    r = login_via_provider(client, configured, "chen", enterprise=COMPANY_ID)
    assert r.status_code == 302
    company.refresh_from_db()
    assert company.verified_by == "oidc_legal_rep" and company.user.username == COMPANY_ID
    assert int(client.session["_auth_user_id"]) == company.user_id
    assert licence.number in client.get("/my/licences/").content.decode()


def test_a_bad_state_is_refused(client, configured):
    params = approve_at_provider(go_to_provider(client, configured), "chen")
    r = client.get("/account/oidc/callback/", {**params, "state": params["state"][:-2] + "xx"})
    assert r.status_code == 400
    # and the pending login is spent: the right state afterwards is refused too
    assert client.get("/account/oidc/callback/", params).status_code == 400
    assert not Applicant.objects.exists() and "_auth_user_id" not in client.session
    # a callback nobody started
    assert Client().get("/account/oidc/callback/", params).status_code == 400


def test_a_bad_nonce_is_refused(client, configured):
    params = approve_at_provider(go_to_provider(client, configured), "chen")
    session = client.session
    session[oidc.SESSION_KEY] = {**session[oidc.SESSION_KEY], "nonce": "another-login-s-nonce"}
    session.save()
    r = client.get("/account/oidc/callback/", params)
    assert r.status_code == 400 and not Applicant.objects.exists()


def _real_id_token(provider, nonce="n-123"):
    """An ID token the provider really issued: authorize and exchange by hand."""
    auth = requests.post(f"{provider['url']}/oauth2/authorize", params={
        "response_type": "code", "client_id": provider["client_id"], "redirect_uri": REDIRECT, "scope": "openid profile",
        "state": "s", "nonce": nonce}, data={"sub": "chen"}, allow_redirects=False, timeout=10)
    code = dict(parse_qsl(urlsplit(auth.headers["Location"]).query))["code"]
    token = requests.post(f"{provider['url']}/oauth2/token", data={"grant_type": "authorization_code", "code": code,
                                                                  "redirect_uri": REDIRECT},
                          auth=(provider["client_id"], provider["client_secret"]), timeout=10)
    token.raise_for_status()
    return token.json()["id_token"]


def test_a_forged_id_token_signature_is_refused(configured):
    id_token = _real_id_token(configured)
    meta = oidc.metadata()
    assert oidc.validate_id_token(id_token, meta, nonce="n-123")["id_number"] == PERSON_ID
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["id_number"] = OTHER_ID  # someone else's number under the provider's signature
    forged = ".".join([header, base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(), signature])
    with pytest.raises(Exception) as exc:
        oidc.validate_id_token(forged, meta, nonce="n-123")
    assert exc.value.code == "oidc_bad_signature"
    unsigned = ".".join([base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode(), payload, ""])
    with pytest.raises(Exception) as exc:
        oidc.validate_id_token(unsigned, meta, nonce="n-123")
    assert exc.value.code in ("oidc_bad_signature", "oidc_bad_token")
    with pytest.raises(Exception) as exc:
        oidc.validate_id_token(id_token, meta, nonce="another")
    assert exc.value.code == "oidc_bad_claims"


def test_an_unknown_issuer_is_refused(client, configured, settings):
    # the discovery document names an issuer other than the one configured
    settings.OIDC_DISCOVERY_URL = configured["url"] + "/.well-known/openid-configuration"
    settings.OIDC_ISSUER = configured["url"].replace("localhost", "127.0.0.1")
    r = client.get("/account/oidc/start/")
    assert r.status_code == 400 and oidc.SESSION_KEY not in client.session
    # an ID token from the real provider, checked against another configured issuer
    settings.OIDC_ISSUER, settings.OIDC_DISCOVERY_URL = configured["url"], ""
    id_token, meta = _real_id_token(configured), oidc.metadata()
    settings.OIDC_ISSUER = "https://tyrz.gd.gov.cn"
    with pytest.raises(Exception) as exc:
        oidc.validate_id_token(id_token, meta, nonce="n-123")
    assert exc.value.code == "oidc_bad_claims"


def test_without_oidc_configured_the_entrance_is_404(client, settings):
    settings.OIDC_ISSUER = ""
    assert client.get("/account/oidc/start/").status_code == 404


def test_the_account_pages_offer_the_provider_when_configured(client, configured, settings):
    for url in ("/account/activate/", "/account/register/", "/account/password-reset/"):
        html = client.get(url).content.decode()
        assert 'href="/account/oidc/start/' in html, url
    assert 'name="enterprise"' in client.get("/account/activate/").content.decode()
    settings.OIDC_ISSUER = ""
    assert "/account/oidc/start/" not in client.get("/account/activate/").content.decode()

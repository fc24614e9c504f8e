"""OpenID Connect client for the province's unified identity authentication (统一身份认证), the `oidc`
identity back end of `cases.identity`.

Authorization code flow with PKCE (S256), `state` and `nonce`, all three kept in the session for ten
minutes and used once. The ID token is checked here: signature against the provider's published keys
(asymmetric algorithms only), issuer, audience, expiry, nonce; the userinfo answer must name the same
subject. What the provider asserts (name, ID number or USCC, phone; claim names from `OIDC_CLAIM_*`)
becomes an `identity.Assertion`.

Libraries: Authlib's requests client builds the authorization URL (PKCE) and exchanges the code;
joserfc (by Authlib's author, the JOSE half Authlib now delegates to) verifies the ID token. Authlib
rather than mozilla-django-oidc because the result here is not "a Django user from an e-mail claim"
but an applicant record claimed by ID number under our own rules (`identity.link_verified_identity`);
Authlib gives the protocol steps without taking over the login view or the user model.
"""

from __future__ import annotations

import hmac
import logging
import time

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from django.core.cache import cache
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bianmin.core.errors import ValidationError

from .identity import OIDC_REFUSED, Assertion
from .models import Applicant, Verification

log = logging.getLogger(__name__)

SESSION_KEY = "oidc_pending"
PENDING_TTL = 600  # seconds between leaving for the provider and coming back
METADATA_TTL = 3600
ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


def refused(code: str, why: str = "") -> ValidationError:
    if why:
        log.warning("oidc login refused (%s): %s", code, why)
    return ValidationError(OIDC_REFUSED, code=code)


def _s(name: str, default=""):
    return getattr(settings, name, default)


def redirect_uri() -> str:
    return _s("OIDC_REDIRECT_URI") or (_s("BIANMIN_PUBLIC_URL", "") + "/account/oidc/callback/")


def _get_json(url: str) -> dict:
    try:
        r = requests.get(url, timeout=_s("OIDC_TIMEOUT", 10))
        r.raise_for_status()
        data = r.json()
    except (requests.RequestException, ValueError) as exc:
        raise refused("oidc_unavailable", f"{url}: {exc}")
    if not isinstance(data, dict):
        raise refused("oidc_unavailable", f"{url}: not an object")
    return data


def metadata() -> dict:
    """The provider's discovery document; its issuer must be exactly the configured one."""
    issuer = _s("OIDC_ISSUER")
    if not issuer:
        raise refused("oidc_not_configured", "OIDC_ISSUER is not set")
    url = _s("OIDC_DISCOVERY_URL") or issuer.rstrip("/") + "/.well-known/openid-configuration"
    key = "oidc-meta:" + url
    meta = cache.get(key)
    if meta is None:
        meta = _get_json(url)
        if meta.get("issuer") != issuer:
            raise refused("oidc_unknown_issuer", f"discovery issuer {meta.get('issuer')!r} != {issuer!r}")
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(field), str):
                raise refused("oidc_unavailable", f"discovery lacks {field}")
        cache.set(key, meta, METADATA_TTL)
    return meta


def _client(meta: dict) -> OAuth2Session:
    return OAuth2Session(client_id=_s("OIDC_CLIENT_ID"), client_secret=_s("OIDC_CLIENT_SECRET"),
                         scope=_s("OIDC_SCOPES", "openid profile"), redirect_uri=redirect_uri(),
                         code_challenge_method="S256",
                         token_endpoint_auth_method=_s("OIDC_TOKEN_AUTH_METHOD", "client_secret_basic"))


def begin(session, *, next_url: str = "", enterprise: str = "") -> str:
    """Where to send the browser: the provider's authorization URL. Remembers state, nonce and the
    PKCE verifier in the session."""
    meta = metadata()
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    url, _ = _client(meta).create_authorization_url(meta["authorization_endpoint"], state=state, nonce=nonce,
                                                    code_verifier=verifier)
    session[SESSION_KEY] = {"state": state, "nonce": nonce, "verifier": verifier, "next": next_url,
                            "enterprise": enterprise[:18], "at": int(time.time())}
    return url


def _keys(meta: dict, *, fresh: bool = False) -> KeySet:
    key = "oidc-jwks:" + meta["jwks_uri"]
    data = None if fresh else cache.get(key)
    if data is None:
        data = _get_json(meta["jwks_uri"])
        cache.set(key, data, 300)
    try:
        return KeySet.import_key_set(data)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise refused("oidc_bad_keys", str(exc))


def validate_id_token(id_token: str, meta: dict, *, nonce: str) -> dict:
    """The ID token's claims, once its signature, issuer, audience, expiry and nonce are right."""
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        raise refused("oidc_bad_token", "no ID token")
    algs = [a for a in (meta.get("id_token_signing_alg_values_supported") or ["RS256"]) if a in ASYMMETRIC] or ["RS256"]
    token = None
    for fresh in (False, True):  # the provider may have rotated its keys since they were cached
        try:
            token = jwt.decode(id_token, _keys(meta, fresh=fresh), algorithms=algs)
            break
        except JoseError as exc:
            if fresh:
                raise refused("oidc_bad_signature", str(exc))
        except (ValueError, TypeError) as exc:
            raise refused("oidc_bad_token", str(exc))
    registry = jwt.JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "value": _s("OIDC_ISSUER")},
        aud={"essential": True, "value": _s("OIDC_CLIENT_ID")},
        sub={"essential": True},
        exp={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(token.claims)
    except JoseError as exc:
        raise refused("oidc_bad_claims", str(exc))
    return dict(token.claims)


def complete(session, params) -> tuple[Assertion, dict]:
    """Back from the provider with `params` (the callback's query): check state, exchange the code,
    verify the ID token, read userinfo. Returns what was proven and the pending login (next, enterprise)."""
    pending = session.pop(SESSION_KEY, None)
    if not isinstance(pending, dict) or int(time.time()) - int(pending.get("at", 0)) > PENDING_TTL:
        raise refused("oidc_bad_state", "no pending login")
    state = params.get("state") or ""
    if not hmac.compare_digest(str(state), str(pending["state"])):
        raise refused("oidc_bad_state", "state mismatch")
    if params.get("error"):
        raise refused("oidc_denied", str(params.get("error"))[:100])
    code = params.get("code")
    if not code:
        raise refused("oidc_bad_state", "no code")
    meta = metadata()
    client = _client(meta)
    try:
        token = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                                   code_verifier=pending["verifier"], timeout=_s("OIDC_TIMEOUT", 10))
    except Exception as exc:  # authlib raises OAuthError, requests errors, or ValueError on junk
        raise refused("oidc_token_refused", str(exc))
    claims = validate_id_token(token.get("id_token"), meta, nonce=pending["nonce"])
    if meta.get("userinfo_endpoint"):
        try:
            r = client.get(meta["userinfo_endpoint"], timeout=_s("OIDC_TIMEOUT", 10))
            r.raise_for_status()
            info = r.json()
        except (requests.RequestException, ValueError) as exc:
            raise refused("oidc_unavailable", f"userinfo: {exc}")
        if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
            raise refused("oidc_bad_claims", "userinfo subject differs from the ID token's")
        claims = {**info, **claims}  # the signed token wins where both speak
    return assertion_from(claims), pending


def assertion_from(claims: dict) -> Assertion:
    """Map the provider's claims to an Assertion (claim names from settings)."""
    def claim(name_setting, default):
        value = claims.get(_s(name_setting, default))
        return str(value).strip() if value is not None else ""

    uscc = claim("OIDC_CLAIM_USCC", "uscc")
    if uscc:  # a legal-person login: the provider asserts the enterprise itself
        return Assertion(kind=Applicant.Kind.LEGAL_PERSON, name=claim("OIDC_CLAIM_ORG_NAME", "org_name"),
                         id_number=uscc.upper(), method=Verification.OIDC, phone=claim("OIDC_CLAIM_PHONE", "phone_number"))
    number = claim("OIDC_CLAIM_ID_NUMBER", "id_number")
    name = claim("OIDC_CLAIM_NAME", "name")
    if not number or not name:
        raise refused("oidc_missing_claims", "no name or ID number asserted")
    return Assertion(kind=Applicant.Kind.PERSON, name=name, id_number=number.upper(), method=Verification.OIDC,
                     phone=claim("OIDC_CLAIM_PHONE", "phone_number"))

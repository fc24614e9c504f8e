"""The data-sharing interface's rules (T15): client systems, their secrets and scopes, and the log.

Authentication is HTTP Basic over TLS: the client id and a 256-bit random secret. Only the
secret's SHA-256 is stored: the secret is random and long, so a slow password hash would add
nothing but latency, and a leaked table does not give the secret away. Comparisons take constant
time. The exchange API (exchange_api.py) is the only caller of `authenticate` and `log_call`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from django.db import transaction

from bianmin.core import audit
from bianmin.core.errors import DomainError, ValidationError
from bianmin.core.identities import mask_id_number
from bianmin.org.models import Department

from .models import ExchangeCall, ExchangeClient, Licence, LicenceUse

MAX_HEADER = 512


class Unauthenticated(DomainError):
    status = 401
    code = "exchange_unauthenticated"


class ScopeDenied(DomainError):
    status = 403
    code = "exchange_scope_denied"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def create_exchange_client(name: str, scopes, department: Department | None = None, *, actor=None) -> tuple[ExchangeClient, str]:
    """Register a client system. Returns (client, secret): the secret is shown here once, never stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError("请填写接入系统名称(不超过 100 个字)", code="name_required", field="name")
    if isinstance(scopes, str):
        scopes = [scopes]
    scopes = list(dict.fromkeys(scopes or []))
    unknown = [s for s in scopes if s not in ExchangeClient.Scope.values]
    if not scopes or unknown:
        raise ValidationError("权限范围应为:" + "、".join(ExchangeClient.Scope.values), code="invalid_scope", field="scopes")
    client_id = "bm_" + secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    client = ExchangeClient.objects.create(name=name, client_id=client_id, secret_hash=hash_secret(secret), scopes=scopes,
                                           department=department)
    audit.record("licence.exchange_client.create", actor=actor or "system", obj=client,
                 data={"client_id": client_id, "scopes": scopes, "department": department.pk if department else None})
    return client, secret


@transaction.atomic
def rotate_secret(client: ExchangeClient, *, actor=None) -> str:
    """A new secret for a client (the old one stops working at once)."""
    secret = secrets.token_urlsafe(32)
    ExchangeClient.objects.filter(pk=client.pk).update(secret_hash=hash_secret(secret))
    client.secret_hash = hash_secret(secret)
    audit.record("licence.exchange_client.rotate", actor=actor or "system", obj=client, data={"client_id": client.client_id})
    return secret


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(client_id, secret) from an `Authorization: Basic …` header, or None when absent or malformed."""
    if not header or len(header) > MAX_HEADER:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id or not secret:
        return None
    return client_id, secret


def authenticate(header: str | None) -> tuple[ExchangeClient | None, str]:
    """The client a request comes from. Returns (client, "") or (client or None, reason) when refused:
    the claimed client (if it exists) is returned with the refusal so that the log names it."""
    parsed = parse_basic(header)
    if parsed is None:
        return None, "缺少或无法解析 HTTP Basic 认证信息"
    client_id, secret = parsed
    client = ExchangeClient.objects.select_related("department").filter(client_id=client_id[:40]).first()
    # hash even for an unknown client, so that the answer takes as long either way
    given = hash_secret(secret)
    if client is None or not hmac.compare_digest(given, client.secret_hash):
        return client, "接入标识或密钥不正确"
    if not client.active:
        return client, "该接入系统已停用"
    return client, ""


def require_scope(client: ExchangeClient, scope: str) -> None:
    if scope not in (client.scopes or []):
        raise ScopeDenied(f"该接入系统没有“{ExchangeClient.Scope(scope).label}”权限", code="exchange_scope_denied")


def masked_query(params: dict) -> str:
    """The call's parameters for the log, with holder id numbers masked (the log is not a copy of them)."""
    parts = []
    for key, value in params.items():
        value = str(value)
        if key == "holder_id_number":
            value = mask_id_number(value)
        parts.append(f"{key}={value[:100]}")
    return "&".join(parts)[:300]


def log_call(*, client, endpoint: str, params: dict, status: int, licences: list[Licence], remote_addr: str,
             purpose: str = "") -> ExchangeCall:
    """One ExchangeCall for the call, and one LicenceUse (via exchange) per licence it returned."""
    with transaction.atomic():
        call = ExchangeCall.objects.create(client=client, endpoint=endpoint[:100], query=masked_query(params), status=status,
                                           result_count=len(licences), remote_addr=(remote_addr or "")[:45])
        if licences:
            LicenceUse.objects.bulk_create([
                LicenceUse(licence=licence, via=LicenceUse.Via.EXCHANGE, client=client,
                           department=client.department if client else None, purpose=purpose[:200] or client.name[:200])
                for licence in licences
            ])
    return call

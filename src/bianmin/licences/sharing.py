"""持证人分享核验链接: the holder shares a link that lets someone else check one licence.

The holder picks how long the link lives (1 hour to 30 days) and which of the licence's fields it
shows; the rest stays hidden. Only the token's SHA-256 is stored, so the link cannot be rebuilt
from the database. Every opening is a LicenceUse (via share_link) the holder sees. An expired or
revoked link answers 410 Gone.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from bianmin.core import audit
from bianmin.core.errors import DomainError, NotFound, ValidationError
from bianmin.core.identities import mask_id_number

from . import services
from .models import Licence, LicenceStatus, LicenceUse, ShareLink
from .selectors import holder_q

# What a holder may choose to show, besides the licence's name, issuer and verification result,
# which every link shows. Surface (照面) fields are offered as "surface:<key>".
FIELDS = {
    "holder_name": "持证主体",
    "holder_id_number": "持证主体代码(部分隐藏)",
    "number": "证照编号",
    "issued_on": "颁证日期",
    "validity": "有效期",
}
DEFAULT_FIELDS = ["holder_name", "validity"]
MIN_HOURS, MAX_HOURS = 1, 30 * 24
DURATIONS = [(1, "1 小时"), (24, "1 天"), (72, "3 天"), (168, "7 天"), (720, "30 天")]
MAX_TOKEN_LENGTH = 100


class LinkGone(DomainError):
    """The link existed but no longer works (expired or revoked): HTTP 410."""

    status = 410
    code = "share_link_gone"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def field_choices(licence: Licence) -> list[tuple[str, str]]:
    """The fields this licence's holder can choose from, in display order."""
    surface = licence.surface if isinstance(licence.surface, dict) else {}
    return list(FIELDS.items()) + [(f"surface:{k}", str(k)) for k in surface]


def _own(licence: Licence, holder) -> None:
    if holder is None or licence.holder_id_number != getattr(holder, "id_number", None):
        raise NotFound("找不到该证照", code="licence_not_found")  # never reveal another holder's licence


def _hours(value) -> int:
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        hours = int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError("有效时长应为整数小时", code="invalid_duration", field="hours") from None
    if not MIN_HOURS <= hours <= MAX_HOURS:
        raise ValidationError("有效时长应在 1 小时到 30 天之间", code="invalid_duration", field="hours")
    return hours


@transaction.atomic
def create_share_link(licence: Licence, *, holder, hours, show_fields, actor) -> tuple[ShareLink, str]:
    """Make a link for the holder's own licence. Returns (link, token); the token is shown once."""
    _own(licence, holder)
    if licence.status != LicenceStatus.VALID:
        raise ValidationError(f"该证照{licence.get_status_display()},不能分享核验链接", code="licence_not_valid")
    hours = _hours(hours)
    if not isinstance(show_fields, (list, tuple)) or len(show_fields) > 50:
        raise ValidationError("展示字段格式不正确", code="invalid_fields", field="show_fields")
    allowed = dict(field_choices(licence))
    chosen = []
    for f in show_fields:
        if not isinstance(f, str) or f not in allowed:
            raise ValidationError(f"不能展示字段“{str(f)[:40]}”", code="invalid_field", field="show_fields")
        if f not in chosen:
            chosen.append(f)
    token = secrets.token_urlsafe(32)
    link = ShareLink.objects.create(licence=licence, token_hash=hash_token(token), show_fields=chosen,
                                    expires_at=timezone.now() + timedelta(hours=hours))
    audit.record("licence.share_link.create", actor=actor, obj=link,
                 data={"licence": licence.identifier, "hours": hours, "fields": chosen})
    return link, token


@transaction.atomic
def revoke(link_id, *, holder, actor) -> ShareLink:
    """The holder withdraws a link at once; others' links are 'not found'."""
    try:
        link_id = int(link_id)
    except (TypeError, ValueError):
        raise NotFound("找不到该分享链接", code="share_link_not_found") from None
    link = (ShareLink.objects.select_for_update().select_related("licence")
            .filter(pk=link_id if 0 < link_id < 2**63 else 0)
            .filter(licence__in=Licence.objects.filter(holder_q(holder)).values("pk")).first())
    if link is None:
        raise NotFound("找不到该分享链接", code="share_link_not_found")
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        audit.record("licence.share_link.revoke", actor=actor, obj=link, data={"licence": link.licence.identifier})
    return link


def state(link: ShareLink, now=None) -> str:
    now = now or timezone.now()
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= now:
        return "expired"
    return "active"


STATE_LABELS = {"active": "有效", "expired": "已过期", "revoked": "已撤销"}


@transaction.atomic
def resolve(token) -> tuple[ShareLink, Licence]:
    """The link a visitor opens: NotFound for an unknown token, LinkGone (410) for an expired or
    revoked one. A working link's opening is logged for the holder (LicenceUse via share_link)."""
    token = str(token or "")
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound("该分享链接不存在", code="share_link_not_found")
    link = (ShareLink.objects.select_related("licence", "licence__licence_type", "licence__issuer", "licence__seal")
            .filter(token_hash=hash_token(token)).first())
    if link is None:
        raise NotFound("该分享链接不存在", code="share_link_not_found")
    now = timezone.now()
    if link.revoked_at is not None:
        raise LinkGone("持证人已撤销该分享链接", code="share_link_revoked")
    if link.expires_at <= now:
        raise LinkGone(f"该分享链接已于 {timezone.localtime(link.expires_at):%Y-%m-%d %H:%M} 过期", code="share_link_expired")
    services.log_licence_use(licence=link.licence, via=LicenceUse.Via.SHARE_LINK, purpose="通过持证人分享的链接核验")
    return link, link.licence


def shown_fields(link: ShareLink) -> list[tuple[str, str]]:
    """[(label, value)] of what the holder chose to show, in the order of the choices."""
    licence = link.licence
    surface = licence.surface if isinstance(licence.surface, dict) else {}
    out = []
    for f in link.show_fields or []:
        if f == "holder_name":
            out.append((FIELDS[f], licence.holder_name))
        elif f == "holder_id_number":
            out.append((FIELDS[f], mask_id_number(licence.holder_id_number)))
        elif f == "number":
            out.append((FIELDS[f], licence.number))
        elif f == "issued_on":
            out.append((FIELDS[f], f"{licence.issued_on:%Y-%m-%d}"))
        elif f == "validity":
            until = f"{licence.valid_until:%Y-%m-%d}" if licence.valid_until else "长期"
            out.append((FIELDS[f], f"{licence.valid_from:%Y-%m-%d} 至 {until}"))
        elif f.startswith("surface:") and f[8:] in surface:
            out.append((f[8:], str(surface[f[8:]])))
    return out

"""Licence reads shared by the case service, the holder's pages and APIs, and the exchange API.

Every look-up is by holder. A holder is an applicant record whose account proved its identity
(`is_verified`, issue 11): it sees the licences bound to its number AND name, never by number alone,
and an unverified account sees none (`holder_q`, the one place of this rule). An exchange client asks
by id number and name together (`number_licences`). Lists are one query each.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet

from bianmin.core.errors import NotFound

from .models import Licence, LicenceStatus, LicenceUse

LIST_RELATED = ("licence_type", "issuer")


def current(on: date) -> Q:
    """Valid on `on`: status valid, inside its validity period (an open end means long-term). T6."""
    return Q(status=LicenceStatus.VALID, valid_from__lte=on) & (Q(valid_until__isnull=True) | Q(valid_until__gte=on))


def is_current(licence: Licence, on: date) -> bool:
    """The same rule as `current`, for one licence in hand (pages and API rows). T6."""
    return (licence.status == LicenceStatus.VALID and licence.valid_from <= on
            and (licence.valid_until is None or licence.valid_until >= on))


def holder_q(holder) -> Q:
    """The licences `holder` may see as theirs: only a verified holder's, matched by number and name
    (a licence bound to a number alone shows to nobody who merely typed that number)."""
    if holder is None or not getattr(holder, "is_verified", False) or not getattr(holder, "id_number", ""):
        return Q(pk__in=[])
    return Q(holder_id_number=holder.id_number, holder_name=holder.name)


def number_licences(id_number: str, name: str) -> QuerySet[Licence]:
    """A holder's licences as another system asks for them: by id number and name together."""
    return (Licence.objects.filter(holder_id_number=id_number, holder_name=name)
            .select_related(*LIST_RELATED).order_by("-issued_on", "-id"))


def holder_licences(holder) -> QuerySet[Licence]:
    """All of a holder's licences, newest first, whatever their status (index licence_holder)."""
    return Licence.objects.filter(holder_q(holder)).select_related(*LIST_RELATED).order_by("-issued_on", "-id")


def holder_licence(holder, identifier: str) -> Licence:
    """One of the holder's own licences by identifier; anyone else's is 'not found'."""
    licence = (Licence.objects.select_related(*LIST_RELATED, "seal")
               .filter(holder_q(holder), identifier=str(identifier)[:200]).first())
    if licence is None:
        raise NotFound("找不到该证照", code="licence_not_found")
    return licence


def satisfying(holder, type_codes, on: date) -> dict[str, Licence]:
    """{LicenceType.code: Licence} for the codes the holder has a current licence of (the newest
    when several): what fills application materials (免提交). One query; none for no codes."""
    codes = sorted({c for c in type_codes if c})
    if not codes or not getattr(holder, "is_verified", False):
        return {}
    found: dict[str, Licence] = {}
    qs = (Licence.objects.filter(current(on), holder_q(holder), licence_type__code__in=codes)
          .select_related("licence_type").order_by("-valid_from", "-id"))
    for licence in qs:
        found.setdefault(licence.licence_type.code, licence)
    return found


def expiring(holder, on: date, days: int = 90) -> list[Licence]:
    """The holder's current licences that end within `days` days: the renewal reminders."""
    from datetime import timedelta

    return list(Licence.objects.filter(current(on), holder_q(holder), valid_until__isnull=False,
                                       valid_until__lte=on + timedelta(days=days))
                .select_related("licence_type").order_by("valid_until", "id"))


def holder_uses(holder) -> QuerySet[LicenceUse]:
    """用证记录 of the holder's licences, newest first."""
    return (LicenceUse.objects.filter(licence__in=Licence.objects.filter(holder_q(holder)).values("pk"))
            .select_related("licence", "department", "client").order_by("-id"))

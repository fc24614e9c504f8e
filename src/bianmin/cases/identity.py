"""Real-name identity (实名认证, issue 11): how an account proves it is the person or enterprise of an
applicant record, and the writes that follow from a proof.

The rule, in one place: an account is linked to an `Applicant` record either because it created the
record itself (自行注册: name and number typed, nothing proven, `verified_at` empty), or because it
proved the identity through one of the back ends below (`verified_by`). Only a proven link sees what
the platform holds for that identity beyond the account's own submissions: licences bound to the
number, cases registered at a window, the record's address and phone (`Applicant.is_verified`, read
by `cases.selectors` and `licences.selectors`). Name and number alone never claim a record.

Back ends (the seam; `BIANMIN_IDENTITY_BACKENDS`, default: `activation`, plus `oidc` when `OIDC_ISSUER`
is set):

- `oidc`: the province's unified identity authentication (统一身份认证), an OpenID Connect provider
  (`cases.oidc`). Its signed assertion of name and number IS the proof: a verified login creates or
  claims the record it names. An enterprise is claimed by its legal representative's verified
  identity (the person's number equals `Applicant.legal_representative_id_number` on file), or when
  the provider itself asserts the enterprise (USCC claim).
- `activation`: the built-in one for a first run. A one-time code (激活码) delivered out of band:
  printed on the window receipt when a clerk registers a walk-in (the clerk has seen the ID card or
  business licence), or sent by SMS to the phone already on file. Random (`secrets`), stored as an
  HMAC, single use, expiring, a limited number of tries.

All writes here are services: one transaction each, with their audit entry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from bianmin.core import audit
from bianmin.core.errors import Conflict, ValidationError
from bianmin.core.identities import validate_resident_id, validate_uscc

from .models import ActivationCode, Applicant, OutboxMessage, Verification

RECEIPT_TTL = timedelta(hours=72)  # the walk-in goes home and activates within three days
SMS_TTL = timedelta(minutes=15)
MAX_TRIES = 5  # per code: a 6-digit SMS code with 5 tries is a 1-in-200000 guess
RECEIPT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off paper and typed by hand
RECEIPT_LENGTH = 10  # 31^10 ≈ 8e14

INVALID_CODE = "激活码无效、已使用或已过期。请重新获取激活码,或携带身份证件到服务大厅办理。"
OIDC_REFUSED = "统一身份认证未能完成,请重试;如仍不成功,请携带身份证件到服务大厅办理。"


@dataclass(frozen=True)
class Assertion:
    """What an identity back end proved: who is at the keyboard."""

    kind: str  # Applicant.Kind
    name: str
    id_number: str
    method: str  # Verification
    phone: str = ""


# ----------------------------------------------------------------------------- the seam

def backends() -> list[str]:
    """The identity back ends in use, in the order the pages offer them."""
    configured = getattr(settings, "BIANMIN_IDENTITY_BACKENDS", None)
    if configured:
        return [b for b in configured if b in ("oidc", "activation")]
    return (["oidc"] if getattr(settings, "OIDC_ISSUER", "") else []) + ["activation"]


def oidc_enabled() -> bool:
    return "oidc" in backends() and bool(getattr(settings, "OIDC_ISSUER", ""))


def sees_identity_data(applicant: Applicant | None) -> bool:
    """May this account see what the platform holds for its record's identity (licences, window
    cases, the record's own contact data)? Only a proven link (issue 11)."""
    return applicant is not None and applicant.is_verified


# ----------------------------------------------------------------------------- codes

def _hash(code: str) -> str:
    key = hashlib.sha256(("bianmin-activation:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, code.strip().upper().replace("-", "").replace(" ", "").encode(), hashlib.sha256).hexdigest()


def _new_code(channel: str) -> str:
    if channel == ActivationCode.Channel.SMS:
        return f"{secrets.randbelow(10**6):06d}"
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))


def format_code(code: str) -> str:
    """How a receipt code is printed: groups of five (ABCDE-FGHJK)."""
    return "-".join(code[i:i + 5] for i in range(0, len(code), 5)) if len(code) > 6 else code


def issue_activation_code(*, applicant: Applicant, channel: str, actor=None) -> str:
    """Issue a one-time code for `applicant` and return it in clear (the only time it exists so).

    `receipt`: a clerk registered the walk-in after seeing the card; the code is printed on the
    window receipt. Any account that merely typed this number (unverified) is detached from the record
    here: the person in front of the clerk is the record's owner, and the code is how they claim it.
    `sms`: sent to the phone already on file (never one typed in the request).
    Earlier unused codes of the same channel stop working. A receipt for a record whose account is
    already verified gets no code ("")."""
    if channel not in ActivationCode.Channel.values:
        raise ValidationError("激活码发送方式无效", code="invalid_activation_channel")
    code = _new_code(channel)
    now = timezone.now()
    with transaction.atomic():
        applicant = Applicant.objects.select_for_update().get(pk=applicant.pk)
        if channel == ActivationCode.Channel.RECEIPT and applicant.is_verified:
            return ""  # its owner already holds a proven account: nothing to claim
        if channel == ActivationCode.Channel.SMS and not applicant.phone:
            raise ValidationError("该申请人没有登记手机号码", code="no_phone_on_file")
        ActivationCode.objects.filter(applicant=applicant, channel=channel, used_at__isnull=True).update(expires_at=now)
        ActivationCode.objects.create(applicant=applicant, channel=channel, code_hash=_hash(code),
                                      expires_at=now + (RECEIPT_TTL if channel == ActivationCode.Channel.RECEIPT else SMS_TTL))
        detached = None
        if channel == ActivationCode.Channel.RECEIPT and applicant.user_id and not applicant.is_verified:
            # the phone was typed by that account: an SMS code to it must not become a way back in
            detached = applicant.user_id
            applicant.user = None
            applicant.verified_by, applicant.verified_at, applicant.phone = "", None, ""
            applicant.save(update_fields=["user", "verified_by", "verified_at", "phone"])
        if channel == ActivationCode.Channel.SMS:
            row = OutboxMessage.objects.create(
                channel=OutboxMessage.Channel.SMS, to=applicant.phone,
                body=f"【{getattr(settings, 'BIANMIN_SITE_NAME', '政务服务网')}】您的验证码是 {code},"
                     f"{int(SMS_TTL.total_seconds() // 60)} 分钟内有效,用于激活账号或重设密码。如非本人操作请忽略。")
            transaction.on_commit(lambda: _enqueue(row.pk))
        audit.record("applicant.activation_code", actor=actor or "system", obj=applicant,
                     data={"channel": channel, **({"detached_user": detached} if detached else {})})
    return code


def _enqueue(pk: int) -> None:
    from .notify import enqueue

    enqueue([pk])


def request_sms_code(*, id_number: str) -> None:
    """找回密码 / 激活: send a code to the phone on file for this number, if there is a record with a
    phone. Says nothing either way (the caller answers one generic message)."""
    applicant = Applicant.objects.filter(id_number=(id_number or "").strip().upper()[:18]).first()
    if applicant is None or not applicant.phone:
        return
    issue_activation_code(applicant=applicant, channel=ActivationCode.Channel.SMS)


def redeem_code(*, id_number: str, code: str, password: str) -> User:
    """Claim the record of `id_number` with a one-time code, and set the account's password.

    A receipt code proves identity (the clerk saw the card). An SMS code proves possession of the
    phone on file: it verifies a record that no account typed in itself (registered at a window,
    imported), and for a record a self-registered account created it only resets that account's
    password (its phone was typed by the same person, so it proves nothing more). Every failure
    answers one message; each wrong code costs a try of every live code of the record."""
    id_number = (id_number or "").strip().upper()[:18]
    code = (code or "").strip()
    now = timezone.now()
    with transaction.atomic():
        applicant = Applicant.objects.select_for_update().filter(id_number=id_number).first()
        live = list(ActivationCode.objects.select_for_update().filter(
            applicant=applicant, used_at__isnull=True, expires_at__gt=now, tries__lt=MAX_TRIES)) if applicant else []
        digest = _hash(code) if code else ""
        match = next((c for c in live if digest and hmac.compare_digest(c.code_hash, digest)), None)
        if match is None:
            for c in live:
                c.tries += 1
                c.save(update_fields=["tries"])
    if match is None:
        raise ValidationError(INVALID_CODE, code="activation_invalid", field="code")

    with transaction.atomic():
        applicant = Applicant.objects.select_for_update().get(pk=applicant.pk)
        match = ActivationCode.objects.select_for_update().get(pk=match.pk)
        if match.used_at is not None:  # the same code redeemed twice at once
            raise ValidationError(INVALID_CODE, code="activation_invalid", field="code")
        user = applicant.user or User.objects.filter(username=applicant.id_number).first()
        if user is None:
            user = User(username=applicant.id_number, first_name=applicant.name[:150])
        if getattr(user, "staff", None) is not None or user.is_staff or user.is_superuser:
            raise ValidationError(INVALID_CODE, code="activation_invalid", field="code")
        try:
            password_validation.validate_password(password, user)
        except DjangoValidationError as exc:
            raise ValidationError(";".join(exc.messages), code="weak_password", field="password1") from None
        self_declared = applicant.user_id is not None and not applicant.is_verified
        user.set_password(password)  # also ends the sessions of whoever held the account before
        user.save()
        match.used_at = now
        match.save(update_fields=["used_at"])
        ActivationCode.objects.filter(applicant=applicant, used_at__isnull=True).update(expires_at=now)
        fields = ["user"]
        applicant.user = user
        if match.channel == ActivationCode.Channel.RECEIPT or not self_declared:
            if not applicant.is_verified or applicant.verified_by == "":
                applicant.verified_by, applicant.verified_at = Verification.ACTIVATION, now
                fields += ["verified_by", "verified_at"]
        applicant.save(update_fields=fields)
        audit.record("applicant.activate", actor=user, obj=applicant,
                     data={"channel": match.channel, "verified": applicant.is_verified})
    return user


# ----------------------------------------------------------------------------- self-registration

def register_account(*, kind: str, name: str, id_number: str, phone: str, password: str,
                     legal_representative: str = "") -> User | None:
    """自行注册: a new account with a new, unverified record of its own. Returns None, writing
    nothing, when the number already has a record or an account: an existing record is claimed only
    through a back end above, never by typing its name and number. The caller answers the same way
    in both cases (no oracle)."""
    from . import services

    if kind not in Applicant.Kind.values:
        raise ValidationError("申请人类型无效", code="invalid_applicant_kind", field="kind")
    id_number = validate_resident_id(id_number, "id_number") if kind == Applicant.Kind.PERSON else validate_uscc(id_number, "id_number")
    if Applicant.objects.filter(id_number=id_number).exists() or User.objects.filter(username=id_number).exists():
        return None
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=id_number, password=password, first_name=(name or "")[:150])
            services.register_applicant(kind=kind, name=name, id_number=id_number, phone=phone, user=user,
                                        legal_representative=legal_representative)
    except (IntegrityError, Conflict):  # the same number registered at the same moment
        return None
    return user


# ----------------------------------------------------------------------------- proven identities

def _verify_link(applicant: Applicant, method: str, now, phone: str = "") -> User:
    user = applicant.user or User.objects.filter(username=applicant.id_number).first()
    fields = ["user", "verified_by", "verified_at"]
    if user is None:
        user = User(username=applicant.id_number, first_name=applicant.name[:150])
        user.set_unusable_password()  # logs in through the provider; a password can be set by reset
        user.save()
    elif getattr(user, "staff", None) is not None or user.is_staff or user.is_superuser:
        raise Conflict(OIDC_REFUSED, code="identity_refused")
    elif not applicant.is_verified:
        # whoever self-registered this number loses the account: their password and their phone
        # (which an SMS reset would otherwise reach) go; the proven person logs in through the provider
        user.set_unusable_password()
        user.save(update_fields=["password"])
        if applicant.user_id == user.pk:
            applicant.phone = phone[:20]
            fields.append("phone")
    applicant.user = user
    applicant.verified_by, applicant.verified_at = method, now
    applicant.save(update_fields=fields)
    return user


def link_verified_identity(*, assertion: Assertion, enterprise: str = "") -> User:
    """A back end proved `assertion`: create or claim its record and return the account to log in.

    The proven person takes over a record an unverified account created by typing the number (that
    account's name for the record is replaced by the proven one). A record already verified, or
    registered at a window, whose name differs from the proven name is refused (the person should
    have the record corrected at a window). With `enterprise` (a USCC), the proven person claims
    that enterprise's account if they are its legal representative on file."""
    now = timezone.now()
    number = validate_resident_id(assertion.id_number, "id_number") if assertion.kind == Applicant.Kind.PERSON \
        else validate_uscc(assertion.id_number, "id_number")
    name = (assertion.name or "").strip()[:100]
    if not name:
        raise ValidationError(OIDC_REFUSED, code="identity_refused")
    with transaction.atomic():
        record = Applicant.objects.select_for_update().filter(id_number=number).first()
        if record is None:
            record = Applicant.objects.create(kind=assertion.kind, name=name, id_number=number, phone=assertion.phone[:20])
        elif record.name != name:
            if record.user_id and not record.is_verified:
                record.name = name
                record.save(update_fields=["name"])
            else:
                raise Conflict("统一身份认证的姓名(名称)与登记信息不一致,请携带证件到服务大厅核对。", code="identity_mismatch")
        if record.kind != assertion.kind:
            raise Conflict(OIDC_REFUSED, code="identity_refused")
        user = _verify_link(record, assertion.method, now, phone=assertion.phone)
        audit.record("applicant.verify", actor=user, obj=record, data={"method": assertion.method})
        if not enterprise:
            return user
        if assertion.kind != Applicant.Kind.PERSON:
            raise Conflict(OIDC_REFUSED, code="identity_refused")
        company = Applicant.objects.select_for_update().filter(
            kind=Applicant.Kind.LEGAL_PERSON, id_number=str(enterprise).strip().upper()[:18]).first()
        if company is None or not company.legal_representative_id_number or \
                not hmac.compare_digest(company.legal_representative_id_number, number):
            raise Conflict("您不是该单位登记的法定代表人,不能认领该单位账号。请法定代表人本人认证,或使用单位的激活码。",
                           code="not_legal_representative")
        company_user = _verify_link(company, Verification.OIDC_LEGAL_REP, now)
        audit.record("applicant.verify", actor=user, obj=company, data={"method": Verification.OIDC_LEGAL_REP})
        return company_user


def mark_verified(*, applicant: Applicant, method: str, actor=None) -> Applicant:
    """Record that the linked account's identity was checked by other means (the demo's accounts;
    a clerk who checked the card of the account holder in person)."""
    if method not in Verification.values:
        raise ValidationError("实名核验方式无效", code="invalid_verification")
    if applicant.user_id is None:
        raise ValidationError("该申请人没有关联账号", code="no_account")
    with transaction.atomic():
        applicant.verified_by, applicant.verified_at = method, timezone.now()
        applicant.save(update_fields=["verified_by", "verified_at"])
        audit.record("applicant.verify", actor=actor or "system", obj=applicant, data={"method": method})
    return applicant


def template_context(request) -> dict:
    """Context processor: whether pages offer 统一身份认证 (login, register, activation, the notices)."""
    return {"oidc_enabled": oidc_enabled()}

"""Writes of the core app: personal API tokens (`core.api.auth` reads them)."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from . import audit, tokens
from .errors import NotFound, ValidationError
from .models import ApiToken

MAX_ACTIVE_TOKENS = 20
MAX_TOKEN_NAME = 100


def issue_token(user, name: str) -> str:
    """Make a personal token for `user`; the plain token is returned here and never again. At most
    MAX_ACTIVE_TOKENS unrevoked tokens per user (the user row is locked so that two requests racing
    cannot both pass the count)."""
    name = (name or "").strip()[:MAX_TOKEN_NAME] or "未命名"
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.filter(user=user, revoked=False).count() >= MAX_ACTIVE_TOKENS:
            raise ValidationError(f"有效令牌最多 {MAX_ACTIVE_TOKENS} 个,请先吊销不用的令牌", code="too_many_tokens")
        row = ApiToken.objects.create(user=user, name=name, key_hash=tokens.hash_token(token))
        audit.record("api_token.issue", actor=user, obj=row, data={"name": name})
    return token


def revoke_token(token_id: int, *, user) -> ApiToken:
    """Revoke one of `user`'s tokens (again: nothing changes, no second audit entry). Another user's
    token, or none, is 404. The cached entry goes with the update (`ApiTokenQuerySet.update`)."""
    with transaction.atomic():
        row = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
        if row is None:
            raise NotFound("找不到该令牌", code="token_not_found")
        if not row.revoked:
            ApiToken.objects.filter(pk=row.pk).update(revoked=True)
            row.revoked = True
            audit.record("api_token.revoke", actor=user, obj=row, data={"name": row.name})
    return row


def stamp_token_use(token: ApiToken, *, now) -> None:
    """Record when a token was last used (shown to its owner). No audit entry: it is a usage stamp on
    the hot path of every API call, written at most once per LAST_USED_RESOLUTION, not a business act."""
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now

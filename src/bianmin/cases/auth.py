"""API authentication: the Django session (browsers; CSRF checked on unsafe methods) or a personal
bearer token (kiosks, mobile apps, load tests): `Authorization: Bearer <token>`.

Only the SHA-256 of a token is stored. `issue_token` returns the token itself, once. A wrong or
revoked token is refused (401) even when a session cookie comes along: a client that sends a token
means that token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer
from ninja.security.session import SessionAuth as _NinjaSessionAuth
from ninja.utils import check_csrf

from bianmin.core import audit
from bianmin.core.errors import PermissionDenied

from .models import ApiToken

LAST_USED_RESOLUTION = timedelta(minutes=1)  # write last_used_at at most once a minute per token
MAX_TOKEN_LENGTH = 200
# A token's user (with applicant and staff) is cached for a few minutes: resolving it is the costliest
# query of an API call. Only in a cache every process shares (Redis), so that revoking a token,
# deactivating a user or changing their applicant/staff record (which clear the entry) is seen by
# all of them at once; with a per-process cache every request asks the database.
TOKEN_CACHE_SECONDS = 300


def _token_cache_shared() -> bool:
    return "redis" in settings.CACHES["default"]["BACKEND"].lower()


def _cache_key(key_hash: str) -> str:
    return f"apitoken:{key_hash}"


def forget_tokens_of(user_id: int) -> None:
    """Drop the cached entries of a user's tokens once the current transaction commits (called when
    the user, applicant or staff record changes or goes). The keys are read now: a deletion takes the
    tokens with it."""
    if _token_cache_shared():
        _drop([_cache_key(h) for h in ApiToken.objects.filter(user_id=user_id).values_list("key_hash", flat=True)])


def _drop(keys: list[str]) -> None:
    """Now, and again after commit: a request reading the row before the change commits may have
    cached it in between."""
    if keys:
        cache.delete_many(keys)
        transaction.on_commit(lambda: cache.delete_many(keys))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(user, name: str) -> str:
    """Make a personal token for `user`; the plain token is returned here and never again."""
    name = (name or "").strip()[:100] or "未命名"
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        row = ApiToken.objects.create(user=user, name=name, key_hash=hash_token(token))
        audit.record("api_token.issue", actor=user, obj=row, data={"name": name})
    return token


def revoke_token(token_id: int, *, user) -> bool:
    with transaction.atomic():
        done = ApiToken.objects.filter(pk=token_id, user=user, revoked=False).update(revoked=True) == 1
        if done:
            if _token_cache_shared():
                _drop([_cache_key(h) for h in ApiToken.objects.filter(pk=token_id).values_list("key_hash", flat=True)])
            audit.record("api_token.revoke", actor=user, object_type="cases.apitoken", object_id=token_id)
    return done


class BearerAuth(HttpBearer):
    def __call__(self, request):
        header = request.headers.get(self.header)
        if not header:
            return None  # no token: let the session try
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            raise AuthenticationError()
        return self.authenticate(request, token.strip())

    def authenticate(self, request, token: str):
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthenticationError()
        key_hash = hash_token(token)
        shared = _token_cache_shared()
        row = cache.get(_cache_key(key_hash)) if shared else None
        if row is None:
            # the user's applicant or staff record in the same query (absent ones are cached as absent)
            row = (ApiToken.objects.select_related("user__applicant", "user__staff__department")
                   .filter(key_hash=key_hash, revoked=False).first())
            if row is None or not row.user.is_active:
                raise AuthenticationError()
            if shared:
                cache.set(_cache_key(key_hash), row, TOKEN_CACHE_SECONDS)
        now = timezone.now()
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
            row.last_used_at = now
            if shared:
                cache.set(_cache_key(key_hash), row, TOKEN_CACHE_SECONDS)
        request.user = row.user
        return row.user


class SessionAuth(_NinjaSessionAuth):
    """ninja's django_auth, with the CSRF failure in the API's error shape."""

    def __call__(self, request):
        user = request.user
        if not (user.is_authenticated and user.is_active):
            return None  # not logged in: 401, not a CSRF complaint
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise PermissionDenied("安全校验失败(CSRF),请刷新页面后重试", code="csrf_failed")
        return user

    def authenticate(self, request, key):  # pragma: no cover - __call__ does the work
        return None


bearer_auth = BearerAuth()
session_auth = SessionAuth()
API_AUTH = [bearer_auth, session_auth]


def _forget_cached_tokens(sender, instance, **kwargs):
    user_id = instance.pk if sender is get_user_model() else getattr(instance, "user_id", None)
    if user_id:
        forget_tokens_of(user_id)


def connect_signals() -> None:
    """A changed user, applicant or staff record must not linger in the token cache."""
    from django.db.models.signals import post_save, pre_delete

    from bianmin.org.models import Staff

    from .models import Applicant

    for model in (get_user_model(), Applicant, Staff):
        post_save.connect(_forget_cached_tokens, sender=model, dispatch_uid=f"apitoken-cache-{model._meta.label}")
        pre_delete.connect(_forget_cached_tokens, sender=model, dispatch_uid=f"apitoken-cache-del-{model._meta.label}")

"""API authentication: the Django session (browsers; CSRF checked on unsafe methods) or a personal
bearer token (kiosks, mobile apps, load tests): `Authorization: Bearer <token>`.

Only the SHA-256 of a token is stored (`core.services.issue_token` returns the token itself, once).
A wrong or revoked token is refused (401) even when a session cookie comes along: a client that sends
a token means that token. Resolved tokens are cached in a shared cache (`core.tokens`).
"""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer
from ninja.security.session import SessionAuth as NinjaSessionAuth
from ninja.utils import check_csrf

from bianmin.core import tokens
from bianmin.core.errors import PermissionDenied
from bianmin.core.models import ApiToken

LAST_USED_RESOLUTION = timedelta(minutes=1)  # write last_used_at at most once a minute per token
MAX_TOKEN_LENGTH = 200


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
        key_hash = tokens.hash_token(token)
        key = tokens.cache_key(key_hash)
        shared = tokens.cache_shared()
        row = cache.get(key) if shared else None
        if row is None:
            # the user's applicant or staff record in the same query (absent ones are cached as absent)
            row = (ApiToken.objects.select_related("user__applicant", "user__staff__department")
                   .filter(key_hash=key_hash, revoked=False).first())
            if row is None or not row.user.is_active:
                raise AuthenticationError()
            if shared:
                cache.set(key, row, tokens.TOKEN_CACHE_SECONDS)
        now = timezone.now()
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
            from bianmin.core import services as core_services  # services import this module's neighbours

            core_services.stamp_token_use(row, now=now)
            if shared:
                cache.set(key, row, tokens.TOKEN_CACHE_SECONDS)
        request.user = row.user
        return row.user


class SessionAuth(NinjaSessionAuth):
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

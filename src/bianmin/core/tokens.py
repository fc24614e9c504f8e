"""The shared cache of API tokens: which entries to drop when a token, its user or the user's
applicant or staff record changes.

A token's user (with applicant and staff) is cached for a few minutes: resolving it is the costliest
query of an API call. Only in a cache every process shares (Redis), so that revoking a token,
deactivating a user or changing their applicant/staff record (which drop the entry) is seen by all of
them at once; with a per-process cache every request asks the database.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

TOKEN_CACHE_SECONDS = 300


def cache_shared() -> bool:
    return "redis" in settings.CACHES["default"]["BACKEND"].lower()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def cache_key(key_hash: str) -> str:
    return f"apitoken:{key_hash}"


def forget(key_hashes) -> None:
    """Drop the cached entries of these tokens now, and again after commit: a request reading the row
    before the change commits may have cached it in between."""
    if not cache_shared():
        return
    keys = [cache_key(h) for h in key_hashes]
    if keys:
        cache.delete_many(keys)
        transaction.on_commit(lambda: cache.delete_many(keys))


def forget_tokens_of(user_id: int) -> None:
    """Drop the cached entries of a user's tokens (the user, their applicant or staff record changed or
    goes). The keys are read now: a deletion takes the tokens with it."""
    if cache_shared() and user_id:
        from .models import ApiToken

        forget(ApiToken.objects.filter(user_id=user_id).values_list("key_hash", flat=True))


def forget_user_of(sender, instance, **kwargs) -> None:
    """Signal receiver for the user model and for records that hang on a user (`user_id`): each app
    connects its own model (cases its Applicant, org its Staff)."""
    user_id = instance.pk if sender is _user_model() else getattr(instance, "user_id", None)
    forget_tokens_of(user_id)


def forget_token(sender, instance, **kwargs) -> None:
    """Signal receiver for ApiToken itself: a token saved (revoked in the admin, say) or deleted."""
    forget([instance.key_hash])


def connect(model) -> None:
    """A changed or deleted `model` row must not linger in the token cache."""
    from django.db.models.signals import post_save, pre_delete

    post_save.connect(forget_user_of, sender=model, dispatch_uid=f"apitoken-cache-{model._meta.label}")
    pre_delete.connect(forget_user_of, sender=model, dispatch_uid=f"apitoken-cache-del-{model._meta.label}")


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    from .models import ApiToken

    connect(_user_model())
    post_save.connect(forget_token, sender=ApiToken, dispatch_uid="apitoken-cache-token")
    post_delete.connect(forget_token, sender=ApiToken, dispatch_uid="apitoken-cache-token-del")


def _user_model():
    from django.contrib.auth import get_user_model

    return get_user_model()

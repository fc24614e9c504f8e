"""Issue 11.7: a token revoked by any path, not only `revoke_token` (the admin's save, a queryset
update, a bulk update, a deletion), drops its entry from the shared cache at once. On real Redis."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from bianmin.core import services, tokens
from bianmin.core.models import ApiToken

pytestmark = pytest.mark.skipif("redis" not in settings.CACHES["default"]["BACKEND"].lower(),
                                reason="the token cache is used only with a shared cache: run with REDIS_URL (CI's PostgreSQL run)")


def _revoke_by_save(row):
    row.revoked = True
    row.save()


def _revoke_by_update(row):
    ApiToken.objects.filter(user_id=row.user_id).update(revoked=True)


def _revoke_by_bulk_update(row):
    row.revoked = True
    ApiToken.objects.bulk_update([row], ["revoked"])


def _delete_row(row):
    row.delete()


def _delete_by_queryset(row):
    ApiToken.objects.filter(pk=row.pk).delete()


@pytest.mark.parametrize("revoke", [_revoke_by_save, _revoke_by_update, _revoke_by_bulk_update, _delete_row, _delete_by_queryset])
def test_a_token_revoked_by_any_path_drops_its_cache_entry(people, revoke, django_capture_on_commit_callbacks):
    token = services.issue_token(people["citizen_user"], "手机")
    bearer = {"Authorization": f"Bearer {token}"}
    key = tokens.cache_key(tokens.hash_token(token))
    c = Client()
    assert c.get("/api/v1/cases", headers=bearer).status_code == 200
    assert cache.get(key) is not None  # the user is cached in Redis
    with django_capture_on_commit_callbacks(execute=True):
        revoke(ApiToken.objects.get(key_hash=tokens.hash_token(token)))
    assert cache.get(key) is None
    r = c.get("/api/v1/cases", headers=bearer)
    assert (r.status_code, r.json()["code"]) == (401, "unauthenticated")


def test_stamping_last_used_keeps_the_cache_entry(people):
    token = services.issue_token(people["citizen_user"], "手机")
    key = tokens.cache_key(tokens.hash_token(token))
    assert Client().get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert cache.get(key) is not None  # authenticating stamped last_used_at and kept (re-set) the entry

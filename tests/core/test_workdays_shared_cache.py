"""Calendar overrides reach every app process through the shared Redis cache.

Each process keeps its own copy of the overrides and compares a token in the shared cache at
most once per CHECK_SECONDS. Here a second, independent Redis client plays the other process
that saved an override: after the check interval this process must see the change.
"""

import uuid
from datetime import date

import pytest
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings

from bianmin.core import workdays
from bianmin.core.models import CalendarOverride

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_available() -> bool:
    try:
        import redis

        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except Exception:
        return False


pytestmark = pytest.mark.skipif(not _redis_available(), reason=f"Redis is not running at {REDIS_URL}: shared-cache test skipped")


@pytest.fixture
def shared_cache(db):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    config = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": prefix}
    from django.db import connection

    # An earlier test's override save inside its (rolled-back) test transaction leaves the connection
    # marked "overrides changed in this transaction"; a real transaction always ends and clears it.
    setattr(connection, workdays._DIRTY, False)
    with override_settings(CACHES={"default": config}):
        workdays._snapshot = None
        yield RedisCache(REDIS_URL, {"KEY_PREFIX": prefix})  # the other process's own client
        workdays._snapshot = None


def test_another_process_change_is_seen_after_the_check_interval(shared_cache, monkeypatch):
    national_day_eve = date(2026, 9, 30)  # a Wednesday and a working day in the 2026 schedule
    assert workdays.is_workday(national_day_eve)

    # The other process saves a city day off: the row lands in the shared database and it bumps
    # the token in Redis. This process got no signal (update() bypasses them, as another process would).
    CalendarOverride.objects.bulk_create([CalendarOverride(date=national_day_eve, is_workday=False, reason="台风停工")])
    shared_cache.set(workdays._TOKEN_KEY, uuid.uuid4().hex, None)

    clock = [1000.0]
    monkeypatch.setattr(workdays.time, "monotonic", lambda: clock[0])
    workdays._checked_at = clock[0]  # this process has just compared its token
    assert workdays.is_workday(national_day_eve)  # within the interval it still trusts its copy
    clock[0] += workdays.CHECK_SECONDS + 0.1
    assert not workdays.is_workday(national_day_eve)
    assert workdays.day_info(national_day_eve).reason == "台风停工"
    # and deadlines move: 3 working days from Monday 2026-09-28 are 9-29 (1), then 9-30 is now off and
    # 10-01…10-07 is National Day, so 10-08 Thursday (2) and 10-09 Friday (3).
    assert workdays.add_workdays(date(2026, 9, 28), 3) == date(2026, 10, 9)


def test_local_save_updates_the_shared_token(shared_cache):
    before = workdays._shared_token()
    CalendarOverride.objects.create(date=date(2026, 12, 31), is_workday=False, reason="示例")
    # the token changes on commit; pytest-django's `db` wraps the test in a transaction, so run the hooks
    from django.db import connection

    for _, callback, _ in list(connection.run_on_commit):
        callback()
    assert shared_cache.get(workdays._TOKEN_KEY) not in (None, before)

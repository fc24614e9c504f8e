"""Login throttling: after LIMIT failures for one account within WINDOW, the account is refused for
WINDOW. Counted in Django's cache, so with Redis it holds across every app process."""

from __future__ import annotations

import hashlib

from django.core.cache import cache

LIMIT = 5
WINDOW = 15 * 60  # seconds: failures are counted over 15 minutes, and a lock lasts 15 minutes
LOCKED_MESSAGE = "登录失败次数过多,该账号已暂停登录 15 分钟。请稍后再试,或拨打 12345 求助。"


def _keys(scope: str, account: str) -> tuple[str, str]:
    h = hashlib.sha256(f"{scope}:{account}".encode()).hexdigest()[:32]  # no ID numbers in cache keys
    return f"login-fail:{h}", f"login-lock:{h}"


def locked(scope: str, account: str) -> bool:
    return bool(cache.get(_keys(scope, account)[1]))


def failed(scope: str, account: str) -> int:
    """Count a failure; the LIMIT-th within WINDOW locks the account. Returns the failures left."""
    fails, lock = _keys(scope, account)
    cache.add(fails, 0, WINDOW)
    try:
        n = cache.incr(fails)
    except ValueError:  # expired between add and incr
        cache.set(fails, 1, WINDOW)
        n = 1
    if n >= LIMIT:
        cache.set(lock, 1, WINDOW)
        cache.delete(fails)
        return 0
    return LIMIT - n


def succeeded(scope: str, account: str) -> None:
    cache.delete(_keys(scope, account)[0])


def rate_limit(scope: str, key: str, *, limit: int, window: int) -> int:
    """Count one attempt of `key` in `scope`; 0 if it may go ahead, else the seconds to wait until the
    window ends. A fixed window counted in the cache (shared across processes with Redis); keys are
    hashed so no ID number or address lands in the cache."""
    h = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()[:32]
    counter, started = f"rate:{h}", f"rate-start:{h}"
    import time

    now = int(time.time())
    if cache.add(counter, 0, window):
        cache.set(started, now, window)
    try:
        n = cache.incr(counter)
    except ValueError:  # expired between add and incr
        cache.set(counter, 1, window)
        cache.set(started, now, window)
        n = 1
    if n <= limit:
        return 0
    return max(1, window - (now - int(cache.get(started) or now)))

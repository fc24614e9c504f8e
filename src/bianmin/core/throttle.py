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

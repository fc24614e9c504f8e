"""Throttles: one login throttle for every entrance, and a generic rate limit.

Login (applicant `/account/login/`, console `/console/login/`, Django admin `/admin/login/`, and any
other caller of `django.contrib.auth.authenticate`): `ThrottledModelBackend` checks and counts every
password attempt, so no entrance can forget to. Failures are counted twice:

- per account (the user name, normalised like an identity number and case-folded), across all
  entrances: from the `ACCOUNT_FREE`-th failure on, the next try must wait 2**n seconds
  (3 failures: 8 s, 4: 16 s … capped at `ACCOUNT_MAX_DELAY`, default 5 minutes);
- per client address (`client_address`: REMOTE_ADDR, or the trusted proxy header), over all accounts:
  from the `ADDRESS_FREE`-th failure (default 20) the same growing delay, capped at `ADDRESS_MAX_DELAY`.

A delay is not a lock: during it every try is refused without looking at the password (the right one
too), but a stranger can hold an account back only for the capped delay at a time, never for long.
A successful login (Django's `user_logged_in`) clears the account's count, not the address's. One
account's passwords are checked one at a time (`checking`), so parallel tries cannot slip through
together before the first failure is counted.

Everything lives in Django's cache (Redis in production), so all app processes share it. Cache keys
carry a hash, never an identity number or an address.

`rate_limit(scope, key, limit=, window=)` is the generic counter for other forms (registration,
password reset, API token creation): seconds to wait, 0 when the call may go ahead.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied

from bianmin.core.errors import DomainError
from bianmin.core.identities import normalise


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


# Defaults; settings of the same name (LOGIN_THROTTLE_*) override them.
ACCOUNT_FREE = 3  # failures an account may have before the first delay
ACCOUNT_MAX_DELAY = 5 * 60
ACCOUNT_MEMORY = 24 * 3600  # an account's failures are forgotten a day after the last one
ADDRESS_FREE = 20  # an office behind one NAT address types more wrong passwords than one person
ADDRESS_MAX_DELAY = 15 * 60
ADDRESS_MEMORY = 3600

LOGIN_SCOPE = "login"

# Kept for callers of the first throttle: `failed` reports how many failures are left before a delay.
LIMIT = ACCOUNT_FREE
WINDOW = ACCOUNT_MEMORY
LOCKED_MESSAGE = "尝试次数过多,请稍后再试。如需帮助请拨打 12345。"


def _now() -> float:
    return time.time()


def wait_message(seconds: int) -> str:
    """'请 8 秒后再试' / '请 5 分钟后再试': the one wording every entrance shows."""
    if seconds >= 60:
        when = f"{math.ceil(seconds / 60)} 分钟"
    else:
        when = f"{max(1, seconds)} 秒"
    return f"尝试次数过多,请 {when}后再试。如需帮助请拨打 12345。"


# ----------------------------------------------------------------------------- client address

def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or, behind `TRUSTED_PROXY_COUNT` proxies that write
    `TRUSTED_PROXY_HEADER` (e.g. X-Forwarded-For), the entry the outermost trusted proxy appended.
    Entries to its left were written by the client and are not trusted. '' when unknown."""
    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    header = getattr(settings, "TRUSTED_PROXY_HEADER", "")
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 1) or 0)
    if header and count > 0:
        values = [v.strip() for v in (request.headers.get(header) or "").split(",") if v.strip()]
        if values:
            candidate = values[max(0, len(values) - count)]
            if _valid_ip(candidate):
                return candidate
    return remote if _valid_ip(remote) else ""


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _address_bucket(address: str) -> str:
    """IPv6 clients get a /64 each (one subscriber's whole prefix), IPv4 clients their address."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


# ----------------------------------------------------------------------------- counters with growing delays

def _hash(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


class _Counter:
    """Failures of one subject (an account, an address) with the delay they impose."""

    def __init__(self, scope: str, kind: str, subject: str, *, free: int, max_delay: int, memory: int):
        h = _hash(scope, kind, subject)
        self.count_key, self.until_key = f"throttle:n:{h}", f"throttle:until:{h}"
        self.free, self.max_delay, self.memory = free, max_delay, memory

    def wait(self) -> int:
        until = cache.get(self.until_key)
        return max(0, math.ceil(until - _now())) if until else 0

    def fail(self) -> int:
        """Count a failure; returns the delay it imposes (0 while under the free failures)."""
        cache.add(self.count_key, 0, self.memory)
        try:
            n = cache.incr(self.count_key)
        except ValueError:  # expired between add and incr
            cache.set(self.count_key, 1, self.memory)
            n = 1
        cache.touch(self.count_key, self.memory)
        if n < self.free:
            return 0
        delay = min(self.max_delay, 2 ** min(n - self.free + 3, 30))
        cache.set(self.until_key, _now() + delay, self.memory)
        return delay

    def failures(self) -> int:
        return int(cache.get(self.count_key) or 0)

    def clear(self) -> None:
        cache.delete_many([self.count_key, self.until_key])


def account_key(account: str) -> str:
    """One spelling per account whatever the entrance: spaces and full-width forms gone, case folded."""
    return normalise(account or "").casefold()[:150]


def _account_counter(account: str, scope: str = LOGIN_SCOPE) -> _Counter:
    return _Counter(scope, "account", account_key(account), free=_setting("LOGIN_THROTTLE_ACCOUNT_FREE", ACCOUNT_FREE),
                    max_delay=_setting("LOGIN_THROTTLE_ACCOUNT_MAX_DELAY", ACCOUNT_MAX_DELAY), memory=ACCOUNT_MEMORY)


def _address_counter(address: str, scope: str = LOGIN_SCOPE) -> _Counter:
    return _Counter(scope, "address", _address_bucket(address), free=_setting("LOGIN_THROTTLE_ADDRESS_FREE", ADDRESS_FREE),
                    max_delay=_setting("LOGIN_THROTTLE_ADDRESS_MAX_DELAY", ADDRESS_MAX_DELAY), memory=ADDRESS_MEMORY)


def _counters(request, account: str) -> list[_Counter]:
    counters = [_account_counter(account)] if account_key(account) else []
    address = client_address(request)
    if address:
        counters.append(_address_counter(address))
    return counters


# ----------------------------------------------------------------------------- the login throttle

def login_wait(request, account: str) -> int:
    """Seconds before `account` may try a password from this request's address (0: now)."""
    return max((c.wait() for c in _counters(request, account)), default=0)


def login_failed(request, account: str) -> int:
    """Count a failed login on the account and the address; returns the delay now in force."""
    return max((c.fail() for c in _counters(request, account)), default=0)


def login_succeeded(account: str) -> None:
    _account_counter(account).clear()


CHECK_SECONDS = 30  # the longest a password check may hold its account's marker (a killed worker's goes then)


def checking(account: str) -> str | None:
    """The cache key marking that a password of `account` is being checked. One check at a time per
    account: tries sent in parallel would otherwise all pass the delay check before the first failure
    is counted (a burst of 30 guesses instead of 3)."""
    key = account_key(account)
    return f"throttle:busy:{_hash(LOGIN_SCOPE, 'account', key)}" if key else None


class ThrottledModelBackend(ModelBackend):
    """Django's ModelBackend behind the login throttle. During a delay the password is not checked at
    all (PermissionDenied stops `authenticate`); the wait is left on `request.login_wait` for the page.
    A wrong password also ends `authenticate` here, so that Django's plain ModelBackend, listed after this
    one only to restore sessions that code logged in with it by name, never checks a password."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self.user_model_field(), "")
        account = str(username or "")
        wait = login_wait(request, account)
        busy = checking(account)
        if not wait and busy and not cache.add(busy, 1, CHECK_SECONDS):
            wait = 1  # another try on this account is being checked right now
        if wait:
            if request is not None:
                request.login_wait = wait
            raise PermissionDenied
        try:
            user = super().authenticate(request, username=username, password=password, **kwargs)
            if user is None:
                if account:
                    wait = login_failed(request, account)
                    if request is not None:
                        request.login_wait = wait
                raise PermissionDenied  # the answer is final: no backend after this one checks the password again
        finally:
            if busy:
                cache.delete(busy)
        return user

    @staticmethod
    def user_model_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD


def refuse_login(request, account: str) -> None:
    """An entrance that refuses a user whose password was right (an applicant at the console, a
    non-admin at the admin) counts it like a wrong password: the answer must not tell them apart."""
    wait = login_failed(request, account)
    if request is not None:
        request.login_wait = wait


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    login_succeeded(user.get_username())


# ----------------------------------------------------------------------------- the first throttle's API

def locked(scope: str, account: str) -> bool:
    """True while `account` must wait in `scope` (counted with `failed`)."""
    return _account_counter(account, scope).wait() > 0


def failed(scope: str, account: str) -> int:
    """Count a failure in `scope`; returns the failures left before a delay (0: delayed now)."""
    counter = _account_counter(account, scope)
    counter.fail()
    return max(0, counter.free - counter.failures())


def succeeded(scope: str, account: str) -> None:
    _account_counter(account, scope).clear()


# ----------------------------------------------------------------------------- generic rate limit

def rate_limit(scope: str, key: str, *, limit: int, window: int) -> int:
    """Count one call of `key` in `scope`; at most `limit` calls go ahead in the `window` seconds that
    start with the first of them. Returns the seconds until that window ends when over the limit, 0
    when the call may go ahead. Keys are hashed: no ID number or address lands in the cache."""
    now = _now()
    h = _hash(scope, str(key), str(window))
    counter, started = f"throttle:rate:{h}", f"throttle:rate-start:{h}"
    start = cache.get(started)
    if start is None or now - float(start) >= window:  # a new window begins with this call
        start = now
        cache.set(started, now, window + 1)
        cache.set(counter, 0, window + 1)
    try:
        n = cache.incr(counter)
    except ValueError:  # expired between set and incr
        cache.set(counter, 1, window + 1)
        n = 1
    if n <= limit:
        return 0
    return max(1, math.ceil(window - (now - float(start))))


class Throttled(DomainError):
    """Too many tries: HTTP 429, the wait in the message and in `retry_after` (seconds)."""

    status = 429
    code = "too_many_requests"

    def __init__(self, wait: int):
        super().__init__(wait_message(wait))
        self.retry_after = wait


TOKENS_PER_ACCOUNT = (10, 3600)  # API tokens an account may create per hour
TOKENS_PER_ADDRESS = (30, 3600)


def check_token_creation(request, user) -> None:
    """API token creation (`POST /api/v1/tokens`): a stolen session cannot mint tokens without end.
    Raises Throttled when the account or the address is over its limit."""
    waits = [rate_limit("api-token:account", account_key(user.get_username()), limit=TOKENS_PER_ACCOUNT[0],
                        window=TOKENS_PER_ACCOUNT[1])]
    address = client_address(request)
    if address:
        waits.append(rate_limit("api-token:address", _address_bucket(address), limit=TOKENS_PER_ADDRESS[0],
                                window=TOKENS_PER_ADDRESS[1]))
    if max(waits):
        raise Throttled(max(waits))

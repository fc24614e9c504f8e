"""The one login throttle, through the real entrances (issue 11, point 2).

Before: /admin/login/ had no throttle (30 wrong passwords, then the right one worked while the console
was locked); the applicant and console logins kept separate counters (10 guesses instead of 5); no
limit per address (one guess each against 40 accounts passed); five failures by anyone locked an
account for 15 minutes. Now every entrance counts one account's failures together, each address's
failures too, and a failure answers with a growing, capped delay instead of a lock.

Delays by hand (core/throttle.py): an account's n-th failure, n >= 3, imposes 2**n seconds
(3: 8 s, 4: 16 s, 5: 32 s, 6: 64 s, 7: 128 s, 8: 256 s, then the cap of 300 s); an address's n-th
failure, n >= 20, 2**(n - 17) seconds (20: 8 s …), capped at 900 s.

Each test runs against the memory cache and against real Redis (db 5, the counters every app process
shares in production). The clock of the throttle is moved forward instead of sleeping for minutes.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from bianmin.cases import services
from bianmin.core import throttle
from bianmin.core.identities import resident_id_with_check
from bianmin.org.models import Role
from tests.conftest import make_staff

PASSWORD = "Bianmin!2026"  # make_staff's
PERSON_ID = resident_id_with_check("44080219920315123")
REDIS = "redis://127.0.0.1:6379/5"


@pytest.fixture(params=["locmem", "redis"])
def shared_cache(request, settings):
    """The throttle's counters in the memory cache, then in real Redis."""
    if request.param == "redis":
        import redis

        try:
            redis.Redis.from_url(REDIS).ping()
        except redis.RedisError as exc:  # pragma: no cover - the machine has Redis
            pytest.skip(f"Redis at {REDIS} unreachable: {exc}")
        settings.CACHES = {"default": {"BACKEND": "bianmin.core.cache.RedisCache", "LOCATION": REDIS,
                                       "KEY_PREFIX": "bianmin-test-throttle"}}
    else:  # whatever REDIS_URL says
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from django.core.cache import cache

    cache.clear()
    yield request.param
    cache.clear()


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(throttle, "_now", lambda: c.now, raising=False)
    return c


def at(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def applicant_login(client, account, password):
    return client.post("/account/login/", {"id_number": account, "password": password})


def console_login(client, account, password):
    return client.post("/console/login/", {"username": account, "password": password})


def admin_login(client, account, password):
    return client.post("/admin/login/?next=/admin/", {"username": account, "password": password, "next": "/admin/"})


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def sysadmin(departments):
    """A system administrator: a superuser with a staff record, so every entrance knows the account."""
    staff = make_staff("sysadmin", departments["market"], Role.ADMIN)
    staff.user.is_superuser = staff.user.is_staff = True
    staff.user.save()
    return staff.user


@pytest.fixture
def person(db):
    user = User.objects.create_user(username=PERSON_ID, password=PASSWORD)
    services.register_applicant(kind="person", name="王五", id_number=PERSON_ID, user=user)
    return user


# ----------------------------------------------------------------------------- one counter for every entrance

def test_one_account_shares_one_counter_across_applicant_console_and_admin(shared_cache, clock, sysadmin):
    c = at("198.51.100.10")
    assert applicant_login(c, "sysadmin", "guess-1").status_code == 400
    assert console_login(c, "sysadmin", "guess-2").status_code == 400
    r = admin_login(c, "sysadmin", "guess-3")  # the third failure, wherever it lands, imposes 2**3 = 8 s
    assert "请 8 秒后再试" in r.content.decode() and not logged_in(c)
    # during the delay the right password is refused at every entrance, and checked nowhere
    for login in (admin_login, console_login):
        r = login(c, "sysadmin", PASSWORD)
        assert not logged_in(c), login.__name__
    r = console_login(c, "sysadmin", PASSWORD)
    assert r.status_code == 429 and r["Retry-After"] == "8" and "请 8 秒后再试" in r.content.decode()
    r = applicant_login(c, "sysadmin", PASSWORD)
    assert r.status_code == 429 and r["Retry-After"] == "8"
    clock.advance(7)
    assert console_login(c, "sysadmin", PASSWORD)["Retry-After"] == "1"
    clock.advance(1)
    r = admin_login(c, "sysadmin", PASSWORD)
    assert r.status_code == 302 and r["Location"] == "/admin/" and logged_in(c)


def test_applicant_and_console_guesses_add_up(shared_cache, clock, person):
    """Before, 5 at /account/login/ and 5 more at /console/login/; now the third imposes a delay."""
    c = at("198.51.100.11")
    assert applicant_login(c, PERSON_ID, "wrong-1").status_code == 400
    assert console_login(c, PERSON_ID.lower(), "wrong-2").status_code == 400  # the same account, any spelling
    r = applicant_login(c, PERSON_ID, "wrong-3")
    assert r.status_code == 429 and "请 8 秒后再试" in r.content.decode()
    clock.advance(8)
    assert console_login(c, PERSON_ID, "wrong-4")["Retry-After"] == "16"
    clock.advance(16)
    r = applicant_login(c, PERSON_ID, PASSWORD)
    assert r.status_code == 302 and logged_in(c)
    # a successful login clears the account's count: the next failure is the first again
    assert applicant_login(at("198.51.100.11"), PERSON_ID, "wrong-5").status_code == 400


def test_admin_login_is_throttled(shared_cache, clock, sysadmin):
    """Before: 30 wrong passwords in 10 s at /admin/login/, and then the right one worked."""
    c = at("198.51.100.12")
    for i in range(30):
        admin_login(c, "sysadmin", f"guess-{i}")
    r = admin_login(c, "sysadmin", PASSWORD)
    assert r.status_code == 200 and not logged_in(c) and "后再试" in r.content.decode()
    # only 3 of the 30 were checked: the rest came during the delays and were refused unchecked
    assert throttle._account_counter("sysadmin").failures() == 3


def test_parallel_tries_on_one_account_are_checked_one_at_a_time(shared_cache, clock, person):
    """While one try's password is being checked (its marker is in the shared cache), a try sent in
    parallel is refused for a second, unchecked and uncounted: a burst cannot pass the free tries."""
    from django.core.cache import cache

    busy = throttle.checking(PERSON_ID.lower())  # the same account, as another entrance spells it
    assert cache.add(busy, 1, throttle.CHECK_SECONDS)  # what the first try's check holds
    c = at("198.51.100.14")
    r = applicant_login(c, PERSON_ID, PASSWORD)
    assert r.status_code == 429 and r["Retry-After"] == "1" and not logged_in(c)
    assert throttle._account_counter(PERSON_ID).failures() == 0
    cache.delete(busy)  # the first check is done
    assert applicant_login(c, PERSON_ID, PASSWORD).status_code == 302
    assert cache.get(busy) is None  # and a finished check leaves no marker behind


# ----------------------------------------------------------------------------- per address

def test_one_guess_each_against_40_accounts_hits_the_address_limit(shared_cache, clock, db):
    ids = [resident_id_with_check(f"44080219900101{n:03d}") for n in range(1, 41)]
    for number in ids:
        user = User.objects.create_user(username=number, password=PASSWORD)
        services.register_applicant(kind="person", name="测试", id_number=number, user=user)
    c = at("203.0.113.7")
    statuses = [applicant_login(c, number, "123456aA").status_code for number in ids]
    # 19 plain failures, the 20th imposes 8 s on the address, the other 20 are refused unchecked
    assert statuses == [400] * 19 + [429] * 21
    assert applicant_login(c, ids[0], PASSWORD).status_code == 429  # the right one too, from this address
    for number in ids[19:]:
        assert throttle._account_counter(number).failures() == (1 if number == ids[19] else 0)
    # another address is not held back
    assert applicant_login(at("198.51.100.13"), ids[-1], PASSWORD).status_code == 302
    clock.advance(8)
    assert applicant_login(c, ids[0], PASSWORD).status_code == 302


def test_address_behind_trusted_proxy(shared_cache, clock, settings, db):
    """Behind one trusted proxy the client is the last X-Forwarded-For entry; what the client wrote
    to the left of it is not trusted, so forging it does not escape the address limit."""
    settings.TRUSTED_PROXY_HEADER, settings.TRUSTED_PROXY_COUNT = "X-Forwarded-For", 1
    proxy = at("10.0.0.2")
    for n in range(20):
        r = proxy.post("/account/login/", {"id_number": f"user{n}", "password": "x" * 8},
                       HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.9")
    assert r.status_code == 429
    r = proxy.post("/account/login/", {"id_number": "user-99", "password": "x" * 8}, HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert r.status_code == 400  # another client behind the same proxy
    assert throttle.client_address(r.wsgi_request) == "203.0.113.10"


# ----------------------------------------------------------------------------- strangers cannot lock the owner

def test_a_stranger_holds_the_owner_back_at_most_the_capped_delay(shared_cache, clock, person):
    waits = [0]
    for n in range(1, 21):  # a botnet: each guess from another address, each as soon as it may
        clock.advance(waits[-1])
        r = applicant_login(at(f"192.0.2.{n}"), PERSON_ID, f"guess-{n}")
        assert r.status_code in (400, 429) and not logged_in(r.client if hasattr(r, "client") else Client())
        waits.append(int(r.get("Retry-After", 0)))
    waits = waits[1:]
    assert waits == [0, 0, 8, 16, 32, 64, 128, 256] + [300] * 12
    # the owner comes right after the stranger's last guess: refused, then in after at most 300 s
    owner = at("198.51.100.20")
    r = applicant_login(owner, PERSON_ID, PASSWORD)
    assert r.status_code == 429 and r["Retry-After"] == "300" and "请 5 分钟后再试" in r.content.decode()
    clock.advance(300)
    assert applicant_login(owner, PERSON_ID, PASSWORD).status_code == 302


def test_counts_are_forgotten_a_day_after_the_last_failure(shared_cache, clock, person):
    c = at("198.51.100.21")
    for _ in range(2):
        applicant_login(c, PERSON_ID, "wrong")
    counter = throttle._account_counter(PERSON_ID)
    assert counter.failures() == 2
    from django.core.cache import cache

    key = cache.make_and_validate_key(counter.count_key)
    if shared_cache == "redis":  # the key's lifetime in Redis itself
        ttl = cache._cache.get_client().ttl(key)
    else:
        import time

        ttl = cache._expire_info[key] - time.time()
    assert 86_000 < ttl <= 86_400


# ----------------------------------------------------------------------------- who may enter where

def test_console_refuses_an_applicant_with_the_right_password(shared_cache, clock, person):
    c = at("198.51.100.30")
    r = console_login(c, PERSON_ID, PASSWORD)
    assert r.status_code == 400 and not logged_in(c)
    assert "请输入一个正确的" in r.content.decode()  # the answer of a wrong password
    assert throttle._account_counter(PERSON_ID).failures() == 1  # and counted like one


def test_admin_only_for_administrators(shared_cache, clock, departments):
    clerk = make_staff("clerk1", departments["market"], Role.CLERK).user
    clerk.is_staff = True  # Django's default admin let every is_staff user in
    clerk.save()
    c = at("198.51.100.31")
    r = admin_login(c, "clerk1", PASSWORD)
    assert r.status_code == 200 and not logged_in(c)
    c.force_login(clerk)
    assert c.get("/admin/")["Location"].startswith("/admin/login/")
    # the admin role, without being a Django superuser, may enter
    make_staff("admin1", departments["market"], Role.ADMIN)
    a = at("198.51.100.32")
    assert admin_login(a, "admin1", PASSWORD).status_code == 302
    assert a.get("/admin/").status_code == 200


def test_admin_restricted_by_network(settings, sysadmin):
    settings.ADMIN_ALLOWED_NETWORKS = ["10.20.0.0/16", "2001:db8::/32"]
    assert at("203.0.113.5").get("/admin/login/").status_code == 404
    assert at("203.0.113.5").post("/admin/login/", {"username": "sysadmin", "password": PASSWORD}).status_code == 404
    assert at("10.20.3.4").get("/admin/login/").status_code == 200
    assert at("2001:db8::1").get("/admin/login/").status_code == 200
    assert at("203.0.113.5").get("/console/login/").status_code == 200  # only the admin is restricted
    settings.ADMIN_ALLOWED_NETWORKS = []
    assert at("203.0.113.5").get("/admin/login/").status_code == 200


# ----------------------------------------------------------------------------- API token creation

def test_api_token_creation_is_rate_limited(shared_cache, clock, person):
    c = at("198.51.100.40")
    c.force_login(person)
    for n in range(10):
        assert c.post("/api/v1/tokens", {"name": f"t{n}"}, content_type="application/json").status_code == 201
    r = c.post("/api/v1/tokens", {"name": "t10"}, content_type="application/json")
    assert r.status_code == 429 and r.json()["code"] == "too_many_requests"
    assert 0 < int(r["Retry-After"]) <= 3600  # the window began with the first token of the hour
    from bianmin.core.models import ApiToken

    assert ApiToken.objects.filter(user=person).count() == 10


# ----------------------------------------------------------------------------- the generic rate limit

def test_rate_limit_counts_from_the_first_attempt(shared_cache, clock):
    clock.now = 3600 * 500_000 + 100.0
    assert [throttle.rate_limit("register", "13800138000", limit=3, window=3600) for _ in range(3)] == [0, 0, 0]
    clock.advance(600)  # the window began with the first attempt: 3000 s of it are left
    assert throttle.rate_limit("register", "13800138000", limit=3, window=3600) == 3000
    assert throttle.rate_limit("register", "13900139000", limit=3, window=3600) == 0  # another key
    assert throttle.rate_limit("reset", "13800138000", limit=3, window=3600) == 0  # another scope
    clock.advance(3000)
    assert throttle.rate_limit("register", "13800138000", limit=3, window=3600) == 0


def test_first_throttle_api_still_works(shared_cache, clock):
    """locked/failed/succeeded, for other code: counted per scope, growing delays, no hard lock."""
    assert [throttle.failed("sms", "x") for _ in range(3)] == [2, 1, 0]
    assert throttle.locked("sms", "x") and not throttle.locked("login", "x")
    clock.advance(8)
    assert not throttle.locked("sms", "x")
    throttle.succeeded("sms", "x")
    assert throttle.failed("sms", "x") == 2

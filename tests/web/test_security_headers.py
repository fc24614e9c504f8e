"""Sessions and headers (issue 11, point 2): staff sessions end after idle time, cookies are Secure
and HSTS is sent outside DEBUG, every page carries a Content-Security-Policy without inline script,
and a password like one's ID number or phone is refused."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from bianmin.cases import services
from bianmin.cases.forms import RegisterForm
from bianmin.core.identities import resident_id_with_check
from bianmin.org.models import Role
from bianmin.web.middleware import LAST_SEEN
from tests.conftest import make_staff

PASSWORD = "Bianmin!2026"
PERSON_ID = resident_id_with_check("44080219920315123")
SRC = Path(__file__).resolve().parents[2] / "src" / "bianmin"


@pytest.fixture
def person(db):
    user = User.objects.create_user(username=PERSON_ID, password=PASSWORD)
    services.register_applicant(kind="person", name="王五", id_number=PERSON_ID, user=user)
    return user


def _age(client, seconds):
    """Pretend the session's last request was `seconds` ago."""
    session = client.session
    session[LAST_SEEN] = int(time.time()) - seconds
    session.save()


# ----------------------------------------------------------------------------- staff sessions

def test_staff_session_expires_after_30_idle_minutes(client, departments):
    make_staff("clerk1", departments["market"], Role.CLERK)
    assert client.post("/console/login/", {"username": "clerk1", "password": PASSWORD}).status_code == 302
    assert client.session.get_expiry_age() == 30 * 60
    _age(client, 29 * 60)
    assert client.get("/console/").status_code == 200  # 29 minutes idle: still in, and the clock restarts
    assert int(time.time()) - client.session[LAST_SEEN] <= 1
    _age(client, 31 * 60)
    r = client.get("/console/")
    assert r.status_code == 302 and r["Location"].startswith("/console/login/")
    assert "_auth_user_id" not in client.session


def test_idle_minutes_setting(client, departments, settings):
    settings.STAFF_SESSION_IDLE_MINUTES = 5
    make_staff("clerk1", departments["market"], Role.CLERK)
    client.post("/console/login/", {"username": "clerk1", "password": PASSWORD})
    assert client.session.get_expiry_age() == 5 * 60
    _age(client, 6 * 60)
    assert client.get("/console/").status_code == 302


def test_applicant_session_is_not_cut_short(client, person, settings):
    r = client.post("/account/login/", {"id_number": PERSON_ID, "password": PASSWORD})
    assert r.status_code == 302
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE  # two weeks, Django's default
    _age(client, 3 * 3600)
    assert client.get("/my/").status_code == 200


# ----------------------------------------------------------------------------- cookies and HSTS

def test_cookies_secure_and_hsts_outside_debug(client, person):
    r = client.post("/account/login/", {"id_number": PERSON_ID, "password": PASSWORD}, secure=True)
    assert r.cookies["sessionid"]["secure"] is True and r.cookies["sessionid"]["httponly"] is True
    assert r.cookies["csrftoken"]["secure"] is True
    r = client.get("/", secure=True)
    assert r["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/")  # only over HTTPS, as the standard says


def _settings_with(env: dict) -> list[str]:
    code = ("import bianmin.settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
            "s.ADMIN_ALLOWED_NETWORKS, s.STAFF_SESSION_IDLE_MINUTES)")
    keep = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECURE_COOKIES", "HSTS_SECONDS"}}
    out = subprocess.run([sys.executable, "-c", code], env={**keep, "BIANMIN_TESTING": "1", **env},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split(" ", 3)


def test_secure_defaults_follow_debug():
    assert _settings_with({"DEBUG": "0"})[:3] == ["True", "True", "31536000"]
    assert _settings_with({"DEBUG": "1"})[:3] == ["False", "False", "0"]
    assert _settings_with({"DEBUG": "0", "SECURE_COOKIES": "0"})[:2] == ["False", "False"]
    out = _settings_with({"ADMIN_ALLOWED_NETWORKS": "10.0.0.0/8, 192.168.1.7", "STAFF_SESSION_IDLE_MINUTES": "15"})
    assert out[3].strip() == "['10.0.0.0/8', '192.168.1.7/32'] 15"


def test_bad_admin_network_stops_the_start():
    code = "import bianmin.settings"
    env = {**os.environ, "BIANMIN_TESTING": "1", "ADMIN_ALLOWED_NETWORKS": "10.0.0.0/33"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "ADMIN_ALLOWED_NETWORKS" in out.stderr


# ----------------------------------------------------------------------------- Content-Security-Policy

def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in header.split(";")) if d}


@pytest.mark.parametrize("path", ["/", "/proofs/", "/account/login/", "/account/register/", "/console/login/",
                                  "/admin/login/", "/api/v1/docs", "/api/v1/items", "/no-such-page/"])
def test_csp_on_every_page(client, db, path):
    r = client.get(path)
    assert r.status_code in (200, 404), path
    policy = _policy(r)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in r["Content-Security-Policy"] and "'unsafe-eval'" not in r["Content-Security-Policy"]


def test_csp_on_staff_pages(client, departments):
    make_staff("supervisor1", departments["market"], Role.SUPERVISOR)
    client.post("/console/login/", {"username": "supervisor1", "password": PASSWORD})
    for path in ("/console/", "/console/supervision/plan/report/"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert _policy(r)["script-src"] == ["'self'"]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
STYLE_ATTR = re.compile(r"\sstyle\s*=", re.I)
STYLE_TAG = re.compile(r"<style[\s>]", re.I)


def test_templates_have_no_inline_script_handler_or_style():
    """What the policy would block: our templates keep scripts and styles in static files."""
    found = []
    for path in SRC.rglob("templates/**/*.html"):
        text = path.read_text(encoding="utf-8")
        for name, pattern in (("inline <script>", INLINE_SCRIPT), ("on*= handler", HANDLER),
                              ("style=", STYLE_ATTR), ("<style>", STYLE_TAG)):
            for m in pattern.finditer(text):
                found.append(f"{path.relative_to(SRC)}:{text.count(chr(10), 0, m.start()) + 1}: {name}")
    assert found == []


def test_the_scan_would_see_them():
    assert INLINE_SCRIPT.search('<script>alert(1)</script>') and not INLINE_SCRIPT.search('<script src="/s.js"></script>')
    assert HANDLER.search('<button onclick="x()">') and STYLE_ATTR.search('<span style="width: 3%">')


# ----------------------------------------------------------------------------- passwords like one's identity

def _register(**extra):
    data = {"kind": "person", "name": "王五", "id_number": PERSON_ID, "phone": "13912345678",
            "password1": PASSWORD, "password2": PASSWORD, **extra}
    return RegisterForm(data)


@pytest.mark.parametrize("password,similar_to", [
    (PERSON_ID, "居民身份证号码"),  # the ID number itself (with its X or last digit)
    (PERSON_ID[:17], "居民身份证号码"),  # the ID number's digits
    (PERSON_ID.lower() + "!", "居民身份证号码"),
    ("13912345678ab", "手机号码"),
])
def test_password_like_the_identity_is_refused(db, password, similar_to):
    form = _register(password1=password, password2=password)
    assert not form.is_valid()
    assert f"密码跟 {similar_to} 太相似了。" in form.errors["password1"]


def test_a_company_password_like_its_code_is_refused(db):
    from bianmin.core.identities import uscc_with_check

    code = uscc_with_check("91440800MA4UABCD1")
    form = RegisterForm({"kind": "legal_person", "name": "湛江市海鲜餐饮有限公司", "id_number": code, "legal_representative": "陈六",
                         "phone": "13712345678", "password1": code.lower(), "password2": code.lower()}, kind="legal_person")
    assert not form.is_valid() and "密码跟 统一社会信用代码 太相似了。" in form.errors["password1"]


def test_an_unrelated_password_is_accepted(db):
    assert _register().is_valid()


def test_the_registration_page_refuses_it(client, db):
    r = client.post("/account/register/", {"kind": "person", "name": "王五", "id_number": PERSON_ID, "phone": "13912345678",
                                           "password1": PERSON_ID, "password2": PERSON_ID})
    assert r.status_code == 400 and "太相似" in r.content.decode()
    assert not User.objects.filter(username=PERSON_ID).exists()

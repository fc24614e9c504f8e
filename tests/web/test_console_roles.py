"""Staff log in to the console; each role sees only the functions it may use."""

import pytest

from bianmin.org.models import Role
from tests.conftest import make_staff

PASSWORD = "Bianmin!2026"


@pytest.mark.parametrize("role,sees_catalog", [
    (Role.CLERK, False), (Role.REVIEWER, False), (Role.APPROVER, False), (Role.SUPERVISOR, False),
    (Role.CATALOG_ADMIN, True), (Role.ADMIN, True),
])
def test_console_home_offers_what_the_role_may_use(client, departments, role, sees_catalog):
    make_staff(f"u_{role}", departments["market"], role)
    assert client.login(username=f"u_{role}", password=PASSWORD)
    page = client.get("/console/").content.decode()
    assert "湛江市市场监督管理局" in page and Role(role).label in page
    assert ('href="/console/catalog/"' in page) is sees_catalog
    assert client.get("/console/catalog/").status_code == (200 if sees_catalog else 403)


def test_anonymous_is_sent_to_login(client, db):
    r = client.get("/console/")
    assert r.status_code == 302 and r["Location"].startswith("/console/login/")


def test_login_and_logout(client, departments):
    make_staff("clerk1", departments["market"], Role.CLERK)
    r = client.post("/console/login/", {"username": "clerk1", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/console/"
    r = client.post("/console/logout/")
    assert r.status_code == 302
    assert client.get("/console/").status_code == 302


def test_wrong_password_is_refused_in_chinese(client, departments):
    make_staff("clerk1", departments["market"], Role.CLERK)
    r = client.post("/console/login/", {"username": "clerk1", "password": "wrong-password"})
    assert r.status_code == 400
    page = r.content.decode()
    assert "请输入一个正确的" in page  # Django's zh-hans message for a failed login
    assert "再错 4 次将暂停登录 15 分钟" in page
    assert "_auth_user_id" not in client.session


def test_five_failures_lock_the_staff_account(client, departments):
    make_staff("clerk1", departments["market"], Role.CLERK)
    for left in (4, 3, 2, 1):
        assert client.post("/console/login/", {"username": "clerk1", "password": "nope"}).status_code == 400
    r = client.post("/console/login/", {"username": "clerk1", "password": "nope"})
    assert r.status_code == 429 and "暂停登录 15 分钟" in r.content.decode()
    # even the right password is refused while locked; another account is not affected
    assert client.post("/console/login/", {"username": "clerk1", "password": PASSWORD}).status_code == 429
    assert "_auth_user_id" not in client.session
    make_staff("clerk2", departments["market"], Role.CLERK)
    assert client.post("/console/login/", {"username": "clerk2", "password": PASSWORD}).status_code == 302


def test_login_form_is_csrf_protected(departments):
    from django.test import Client

    make_staff("clerk1", departments["market"], Role.CLERK)
    r = Client(enforce_csrf_checks=True).post("/console/login/", {"username": "clerk1", "password": PASSWORD})
    assert r.status_code == 403

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
    assert "_auth_user_id" not in client.session


def test_login_form_is_csrf_protected(departments):
    from django.test import Client

    make_staff("clerk1", departments["market"], Role.CLERK)
    r = Client(enforce_csrf_checks=True).post("/console/login/", {"username": "clerk1", "password": PASSWORD})
    assert r.status_code == 403

"""Issue 11.6: losing the database connection answers 503 with Retry-After (pages and API), not 500.
A real failure: on PostgreSQL the server terminates the request's backend (pg_terminate_backend); on
SQLite another connection holds the shared in-memory database's write lock, so the request's read
fails in the driver ("database table is locked")."""

import sqlite3

import pytest
from django.db import connection
from django.test import Client


def _break_the_connection():
    """Make the next query of Django's connection fail in the real driver; returns the undo."""
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        import psycopg

        pid = connection.connection.info.backend_pid
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("prepare_threshold", None)
        with psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")},
                             autocommit=True) as other:
            assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0] is True
        return connection.close
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        other = sqlite3.connect(connection.settings_dict["NAME"], uri=True, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE auth_user SET last_name = last_name")  # holds the table's write lock (shared cache)
        return lambda: (other.execute("ROLLBACK"), other.close())
    pytest.skip("needs PostgreSQL or SQLite's in-memory test database")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path, json_answer", [("/api/v1/cases", True), ("/my/", False)])
def test_a_lost_database_answers_503_with_retry_after(path, json_answer):
    from django.contrib.auth.models import User

    user = User.objects.create_user("citizen", password="Bianmin!2026")
    c = Client(raise_request_exception=False)
    c.force_login(user)
    undo = _break_the_connection()
    try:
        r = c.get(path)
    finally:
        undo()
    assert r.status_code == 503, r.content[:300]
    assert r["Retry-After"] == "30"
    if json_answer:
        assert r.json() == {"code": "service_unavailable", "message": "系统正在维护或暂时繁忙,请稍后再试。"}
    else:
        assert "暂时无法访问" in r.content.decode()
    connection.close()
    assert Client().get("/api/v1/items").status_code == 200  # the next request has a fresh connection

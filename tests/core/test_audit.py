"""The audit log is append-only and hash-chained; tampering is caught by `bianmin audit verify`."""

import pytest
from django.db import connection

from bianmin import cli
from bianmin.core import audit
from bianmin.core.models import AuditEntry


def _append_three():
    return [audit.record("test.action", actor="clerk1", object_type="case", object_id=i, data={"n": i, "文本": "受理"}) for i in range(3)]


def test_entries_chain_to_each_other(db):
    a, b, c = _append_three()
    assert a.prev_hash == audit.GENESIS
    assert b.prev_hash == a.hash and c.prev_hash == b.hash
    assert audit.verify().ok and audit.verify().checked == 3


def test_entries_cannot_be_changed_or_deleted_through_the_orm(db):
    a, _, _ = _append_three()
    a.action = "edited"
    with pytest.raises(RuntimeError):
        a.save()
    with pytest.raises(RuntimeError):
        a.delete()


def test_tampered_content_is_caught(db, capsys):
    _, b, _ = _append_three()
    with connection.cursor() as cur:  # an attacker with database access edits a row behind the ORM
        cur.execute("UPDATE core_auditentry SET actor = %s WHERE id = %s", ["someone-else", b.id])
    result = audit.verify()
    assert (result.ok, result.broken_id, result.checked) == (False, b.id, 1)
    assert "被修改" in result.reason
    assert cli.main(["audit", "verify"]) == 1
    assert f"第 {b.id} 号记录" in capsys.readouterr().out


def test_deleted_row_is_caught(db):
    _, b, c = _append_three()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditentry WHERE id = %s", [b.id])
    result = audit.verify()
    assert (result.ok, result.broken_id) == (False, c.id)
    assert "链接断开" in result.reason


def test_cli_reports_intact_log(db, capsys):
    _append_three()
    assert cli.main(["audit", "verify"]) == 0
    assert "已核验 3 条记录" in capsys.readouterr().out


def test_verify_walks_in_batches(db):
    for i in range(12):
        audit.record("x", data={"i": i})
    assert audit.verify(batch=5).checked == 12
    assert AuditEntry.objects.count() == 12


@pytest.mark.django_db(transaction=True)
def test_concurrent_appenders_keep_one_chain():
    """Four connections appending at once (as four web workers do) leave an unbroken chain."""
    if connection.vendor != "postgresql":
        pytest.skip("needs a server database: SQLite's in-memory test database is one connection")
    import threading

    from django.db import connections, transaction

    errors = []

    def work(n):
        try:
            for i in range(25):
                with transaction.atomic():
                    audit.record("test.concurrent", actor=f"worker{n}", data={"i": i})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = audit.verify()
    assert result.ok and result.checked == 100


def test_entries_cut_off_the_end_are_caught(db, capsys):
    """Deleting the newest entries leaves a chain that links up; the head still names the last hash."""
    _, b, c = _append_three()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditentry WHERE id = %s", [c.id])
    result = audit.verify()
    assert (result.ok, result.checked, result.broken_id) == (False, 2, None)
    assert "末尾" in result.reason
    assert cli.main(["audit", "verify"]) == 1
    assert "审计日志被篡改:日志末尾的记录被删除" in capsys.readouterr().out


def test_the_database_and_python_compute_the_same_hash(db, settings):
    """On PostgreSQL the hash is computed by the database (HMAC-SHA256 under the audit key, built from its
    sha256()); it must be what Python's hmac computes from the stored row, for text in any script."""
    import hashlib
    import hmac
    import json

    e = audit.record("test.unicode", actor="窗口一", object_type="case", object_id="4408-01",
                     data={"原因": "材料“不全”\n补正", "n": 1.5, "emoji": "😀", "list": [1, None, True]})
    stored = AuditEntry.objects.get(pk=e.id)
    payload = json.dumps([stored.created_at.isoformat(), "窗口一", "test.unicode", "case", "4408-01", stored.data],
                         ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    expected = hmac.new(settings.AUDIT_KEY, (audit.GENESIS + payload).encode("utf-8"), hashlib.sha256).hexdigest()
    assert stored.hash == expected == e.hash
    assert stored.scheme == 3 and audit.verify().ok


def test_entries_of_the_first_schemes_still_verify(db):
    """Entries written before the keyed chain (schemes 1 and 2) keep their hashes; the chain runs on from
    them keyed, and the upgrade's migration records where (`keyed_from`): an older scheme after it is refused."""
    from django.utils import timezone

    from bianmin.core.models import AuditHead

    at = timezone.now()
    h1 = audit._digest_v1(audit.GENESIS, at, "old", "legacy", "", "", {"a": 1})
    h2 = audit.digest(h1, audit._payload(at, "old", "legacy2", "", "", {}))
    with connection.cursor() as cur:  # as releases before 2026-12 and before the keyed chain wrote them
        cur.execute("INSERT INTO core_auditentry (created_at, actor, action, object_type, object_id, data, prev_hash, hash, scheme) "
                    "VALUES (%s, 'old', 'legacy', '', '', %s, %s, %s, 1)", [at, '{"a": 1}', audit.GENESIS, h1])
        cur.execute("INSERT INTO core_auditentry (created_at, actor, action, object_type, object_id, data, prev_hash, hash, scheme) "
                    "VALUES (%s, 'old', 'legacy2', '', '', '{}', %s, %s, 2)", [at, h1, h2])
    last_old = AuditEntry.objects.get(hash=h2).id
    # what the migration 0004 does at the upgrade
    AuditHead.objects.update_or_create(pk=1, defaults={"prev": h1, "hash": h2, "keyed_from": last_old + 1,
                                                       "mac": audit.head_mac(last_old + 1)})
    new = audit.record("after", data={"b": 2})
    assert new.prev_hash == h2 and new.id >= last_old + 1
    assert audit.verify().ok and audit.verify().checked == 3
    with connection.cursor() as cur:  # claiming another scheme for an old row does not pass either
        cur.execute("UPDATE core_auditentry SET scheme = 2 WHERE hash = %s", [h1])
    assert audit.verify().broken_id == AuditEntry.objects.get(hash=h1).id


def test_a_missing_head_is_taken_up_at_the_newest_entry(db):
    """Without the head row (a flushed database, a data-only restore) the next entry chains to the
    newest one, not to the start."""
    from bianmin.core.models import AuditHead

    _, _, c = _append_three()
    AuditHead.objects.all().delete()
    d = audit.record("after.restore")
    assert d.prev_hash == c.hash
    assert audit.verify().ok and audit.verify().checked == 4


@pytest.mark.parametrize("value, expected", [
    ("ab" * 32, bytes([0xAB] * 32)),
    ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", bytes(range(32))),
])
def test_audit_key_from_the_environment(monkeypatch, value, expected):
    from bianmin import settings as project_settings

    monkeypatch.setenv("BIANMIN_AUDIT_KEY", value)
    assert project_settings._audit_key() == expected


@pytest.mark.parametrize("value", ["too-short", "00" * 31, "AAEC"])
def test_a_bad_audit_key_stops_the_start(monkeypatch, value):
    from django.core.exceptions import ImproperlyConfigured

    from bianmin import settings as project_settings

    monkeypatch.setenv("BIANMIN_AUDIT_KEY", value)
    with pytest.raises(ImproperlyConfigured):
        project_settings._audit_key()


def test_without_debug_the_audit_key_is_required(tmp_path):
    """Production (no DEBUG, not under pytest) refuses to start without BIANMIN_AUDIT_KEY."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "BIANMIN_TESTING", "BIANMIN_AUDIT_KEY")}
    env.update(SECRET_KEY="x" * 50, BIANMIN_SEAL_KEY="00" * 32, BIANMIN_VAR_DIR=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", "import bianmin.settings"], env=env, capture_output=True, text=True, check=False)
    assert run.returncode != 0 and "BIANMIN_AUDIT_KEY must be set" in run.stderr
    env["BIANMIN_AUDIT_KEY"] = "11" * 32
    run = subprocess.run([sys.executable, "-c", "import bianmin.settings as s; print(s.AUDIT_KEY.hex())"], env=env,
                         capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "11" * 32 and "RuntimeWarning" not in run.stderr


def test_a_key_the_chain_was_not_written_with_fails_verification(db, settings):
    """A restore onto a machine with another BIANMIN_AUDIT_KEY (or a guessed key) does not verify."""
    audit.record("x")
    audit.record("y")
    assert audit.verify().ok
    settings.AUDIT_KEY = bytes(32)
    result = audit.verify()
    assert result.ok is False and "链头被修改" in result.reason

"""Issue 11.4: the audit chain against someone who can write the database but holds neither the audit
key (BIANMIN_AUDIT_KEY) nor the checkpoint store. Each attack is raw SQL, as such a person would run it,
computing hashes by the published scheme-2 formula (SHA-256, no key)."""

import json

import pytest
from django.db import connection

from bianmin import cli
from bianmin.core import audit
from bianmin.core.models import AuditEntry
from bianmin.licences.seals import CheckpointSeal


@pytest.fixture
def store(audit_checkpoints):
    """The checkpoint store's folder (tests/conftest.py gives each test its own)."""
    return audit_checkpoints


def _append(n):
    return [audit.record("test.action", actor="clerk1", object_type="case", object_id=i, data={"n": i, "文本": "受理"})
            for i in range(n)]


def _sql(statement, params=()):
    with connection.cursor() as cur:
        cur.execute(statement, list(params))


def _forge_chain_from(entry_id, scheme):
    """What an attacker without the key does after editing an entry: recompute every hash from it on with
    SHA-256 (the code is public), label the rows `scheme`, and point the head at the new end."""
    rows = list(AuditEntry.objects.filter(id__gte=entry_id).order_by("id"))
    prev = AuditEntry.objects.filter(id__lt=entry_id).order_by("-id").values_list("hash", flat=True).first() or audit.GENESIS
    # the unique index on hash: clear the old ones first
    _sql("UPDATE core_auditentry SET hash = 'x' || id WHERE id >= %s", [entry_id])
    for e in rows:
        h = audit.digest(prev, audit._payload(e.created_at, e.actor, e.action, e.object_type, e.object_id, e.data))
        _sql("UPDATE core_auditentry SET prev_hash = %s, hash = %s, scheme = %s WHERE id = %s", [prev, h, scheme, e.id])
        prev = h
    _sql("UPDATE core_audithead SET hash = %s WHERE id = 1", [prev])


def _verdict(capsys):
    result = audit.verify(checkpoint=audit.latest_checkpoint(), seal=CheckpointSeal())
    assert cli.main(["audit", "verify"]) == (0 if result.ok else 1)
    return result, capsys.readouterr().out


def test_deleting_the_last_50_entries_and_the_head_is_caught(db, capsys):
    entries = _append(60)
    _sql("DELETE FROM core_auditentry WHERE id > %s", [entries[9].id])
    _sql("DELETE FROM core_audithead")
    result, out = _verdict(capsys)
    assert (result.ok, result.checked) == (False, 0)
    assert "链头记录缺失" in result.reason
    assert "审计日志被篡改:审计日志链头记录缺失" in out


def test_deleting_the_tail_behind_a_checkpoint_is_caught_even_after_the_head_is_put_back(db, departments, store, capsys):
    """The checkpoint names entry 60; the attacker deletes entries 11-60, mends the head to entry 10 (or
    deletes it and lets the next append put it back): the chain links, the checkpoint does not."""
    entries = _append(60)
    assert cli.main(["audit", "checkpoint"]) == 0
    printed = capsys.readouterr().out
    assert f"第 {entries[-1].id} 号记录" in printed and entries[-1].hash in printed
    _sql("DELETE FROM core_auditentry WHERE id > %s", [entries[9].id])
    _sql("UPDATE core_audithead SET prev = %s, hash = %s WHERE id = 1", [entries[8].hash, entries[9].hash])
    result, out = _verdict(capsys)
    assert (result.ok, result.broken_id, result.checked) == (False, None, 10)
    assert f"记录的第 {entries[-1].id} 号记录不存在" in result.reason
    assert "审计日志被篡改:检查点(" in out and f"第 {entries[-1].id} 号记录不存在" in out

    _sql("DELETE FROM core_audithead")
    audit.record("after.restore")  # the head comes back at entry 10
    result, _ = _verdict(capsys)
    assert result.ok is False and f"第 {entries[-1].id} 号记录" in result.reason


def test_a_checkpoint_anchors_only_what_it_names(db, departments, store, capsys):
    """Entries after the newest checkpoint are the window a tail deletion can hide in: the head still
    catches the naive one; the next checkpoint closes it."""
    entries = _append(5)
    assert cli.main(["audit", "checkpoint"]) == 0
    more = _append(3)
    result, out = _verdict(capsys)
    assert result.ok and result.checked == 5 + 1 + 3  # the first checkpoint created the department's seal: its entry
    assert f"最新检查点(第 {entries[-1].id} 号记录" in out
    _sql("DELETE FROM core_auditentry WHERE id = %s", [more[-1].id])
    result, _ = _verdict(capsys)
    assert result.ok is False and "末尾" in result.reason


@pytest.mark.parametrize("scheme", [2, 3])
def test_a_forged_entry_with_a_correctly_computed_hash_is_caught(db, capsys, scheme):
    entries = _append(3)
    forged_at = entries[-1].created_at
    data = {"n": 99}
    h = audit.digest(entries[-1].hash, audit._payload(forged_at, "admin", "licence.revoke", "case", "7", data))
    _sql("INSERT INTO core_auditentry (created_at, actor, action, object_type, object_id, data, prev_hash, hash, scheme) "
         "VALUES (%s, 'admin', 'licence.revoke', 'case', '7', %s, %s, %s, %s)", [forged_at, json.dumps(data), entries[-1].hash, h, scheme])
    _sql("UPDATE core_audithead SET prev = %s, hash = %s WHERE id = 1", [entries[-1].hash, h])
    forged_id = AuditEntry.objects.get(hash=h).id
    result, out = _verdict(capsys)
    assert (result.ok, result.broken_id, result.checked) == (False, forged_id, 3)
    assert f"审计日志被篡改:第 {forged_id} 号记录" in out


@pytest.mark.parametrize("scheme", [2, 3])
def test_rehashing_every_entry_after_an_edited_one_is_caught(db, capsys, scheme):
    entries = _append(6)
    _sql("UPDATE core_auditentry SET actor = 'someone-else' WHERE id = %s", [entries[2].id])
    _forge_chain_from(entries[2].id, scheme)
    result, out = _verdict(capsys)
    assert (result.ok, result.broken_id, result.checked) == (False, entries[2].id, 2)
    assert f"审计日志被篡改:第 {entries[2].id} 号记录" in out
    assert ("已停用的哈希方式 2" if scheme == 2 else "记录内容与其哈希不符") in out


def test_moving_the_start_of_the_keyed_chain_is_caught(db, capsys):
    """Claiming the keyed chain starts later (so that rehashed scheme-2 rows would pass) breaks the head's MAC."""
    entries = _append(3)
    _forge_chain_from(entries[0].id, 2)
    _sql("UPDATE core_audithead SET keyed_from = %s WHERE id = 1", [entries[-1].id + 1])
    result, out = _verdict(capsys)
    assert result.ok is False and "链头被修改" in result.reason
    assert "审计日志被篡改:审计日志链头被修改" in out


def test_a_checkpoint_edited_in_the_store_is_caught(db, departments, store, capsys):
    entries = _append(4)
    assert cli.main(["audit", "checkpoint"]) == 0
    capsys.readouterr()
    (path,) = store.iterdir()
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f'"entry_id": {entries[-1].id}', f'"entry_id": {entries[1].id}'), encoding="utf-8")
    result, out = _verdict(capsys)
    assert result.ok is False and "签章无效" in result.reason
    assert "检查点" in out and "签章无效" in out


def test_no_checkpoint_is_written_over_a_broken_chain(db, departments, store, capsys):
    entries = _append(3)
    _sql("UPDATE core_auditentry SET actor = 'x' WHERE id = %s", [entries[1].id])
    assert cli.main(["audit", "checkpoint"]) == 1
    assert f"未写检查点:第 {entries[1].id} 号记录" in capsys.readouterr().err
    assert not store.exists() or not list(store.iterdir())


def test_checkpoints_go_to_the_storage_the_setting_names(db, departments, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "audit": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                        "OPTIONS": {"location": str(tmp_path / "elsewhere")}}}
    settings.AUDIT_CHECKPOINT_STORAGE = "audit"
    (entry,) = _append(1)
    cp = audit.write_checkpoint(CheckpointSeal())
    saved = json.loads((tmp_path / "elsewhere" / cp.name).read_text(encoding="utf-8"))
    assert (saved["entry_id"], saved["hash"], saved["kind"]) == (entry.id, entry.hash, "bianmin-audit-checkpoint")


def test_a_first_run_without_departments_ticks_without_a_checkpoint(db, store, capsys):
    _append(1)
    assert cli.main(["tick"]) == 0
    assert "未写审计日志检查点:没有可用于签署检查点的部门印章" in capsys.readouterr().err
    assert cli.main(["audit", "checkpoint"]) == 1


def test_tick_writes_a_checkpoint_and_the_next_one_checks_from_there(db, departments, store, capsys):
    first = _append(2)
    assert cli.main(["tick"]) == 0
    assert f"审计日志检查点:第 {first[-1].id} 号记录" in capsys.readouterr().out
    later = _append(2)
    assert cli.main(["audit", "checkpoint"]) == 0
    names = sorted(p.name for p in store.iterdir())
    assert len(names) == 2 and names[-1].startswith(f"{later[-1].id:012d}-")
    saved = json.loads((store / names[-1]).read_text(encoding="utf-8"))
    assert (saved["entry_id"], saved["hash"]) == (later[-1].id, later[-1].hash)
    assert saved["seal"]["department"] == departments["market"].uscc  # the first city-level department
    # an entry before the previous checkpoint edited afterwards: the next checkpoint walks from the
    # previous one only, the full verify still finds it
    _sql("UPDATE core_auditentry SET actor = 'x' WHERE id = %s", [first[0].id])
    result, _ = _verdict(capsys)
    assert result.broken_id == first[0].id


def test_celery_beat_writes_the_checkpoint_and_logs_a_broken_chain(db, departments, store, caplog):
    from bianmin.licences.tasks import audit_checkpoint_task

    entries = _append(3)
    assert audit_checkpoint_task() == entries[-1].id  # what beat runs every 10 minutes
    assert len(list(store.iterdir())) == 1
    later = _append(1)
    _sql("UPDATE core_auditentry SET actor = 'x' WHERE id = %s", [later[0].id])
    with caplog.at_level("ERROR", logger="bianmin.licences.tasks"):
        assert audit_checkpoint_task() is None
    assert f"第 {later[0].id} 号记录" in caplog.text and len(list(store.iterdir())) == 1  # nothing anchored

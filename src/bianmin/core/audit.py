"""The audit log: `record()` appends one entry chained to the last; `verify()` walks the chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from .models import AuditEntry, AuditHead

GENESIS = "0" * 64


def _payload(created_at, actor, action, object_type, object_id, data) -> str:
    return json.dumps([created_at.isoformat(), actor, action, object_type, str(object_id), data],
                      ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _digest_v1(prev_hash: str, created_at, actor, action, object_type, object_id, data) -> str:
    """Entries written before 2026-12: the previous hash inside the JSON."""
    payload = json.dumps(
        [prev_hash, created_at.isoformat(), actor, action, object_type, str(object_id), data],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def digest(prev_hash: str, payload: str) -> str:
    """Scheme 2: SHA-256 of the previous hash followed by the entry's JSON. PostgreSQL computes the
    same in `_APPEND` (sha256 of the UTF-8 text), so the append is one statement."""
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


_ENTRY = AuditEntry._meta.db_table
_HEAD = AuditHead._meta.db_table
# One statement takes the head's row lock (held until commit: appenders queue here), moves the head
# on from the newest committed hash (ON CONFLICT DO UPDATE always sees it) and writes the entry.
_APPEND = (
    f"WITH head AS (INSERT INTO {_HEAD} (id, prev, hash) "
    f"VALUES (1, '{GENESIS}', encode(sha256(convert_to('{GENESIS}' || %(payload)s, 'UTF8')), 'hex')) "
    f"ON CONFLICT (id) DO UPDATE SET prev = {_HEAD}.hash, "
    f"hash = encode(sha256(convert_to({_HEAD}.hash || %(payload)s, 'UTF8')), 'hex') RETURNING prev, hash) "
    f"INSERT INTO {_ENTRY} (created_at, actor, action, object_type, object_id, data, prev_hash, hash, scheme) "
    f"SELECT %(created_at)s, %(actor)s, %(action)s, %(object_type)s, %(object_id)s, %(data)s, head.prev, head.hash, 2 "
    f"FROM head RETURNING id, prev_hash, hash"
)


def record(action: str, *, actor="", obj=None, object_type: str = "", object_id="", data: dict | None = None) -> AuditEntry:
    """Append an entry. Call inside the business transaction so the log and the change land together."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    actor_name = getattr(actor, "username", None) or str(actor or "")
    # The JSON round trip makes the stored data exactly what the hash covered.
    data = json.loads(json.dumps(data or {}, ensure_ascii=False, default=str))
    entry = AuditEntry(created_at=timezone.now(), actor=actor_name, action=action, object_type=object_type,
                       object_id=str(object_id), data=data, scheme=2)
    payload = _payload(entry.created_at, actor_name, action, object_type, entry.object_id, data)
    # Inside the caller's transaction no savepoint is needed: if the append fails, the business
    # change must fail with it.
    with transaction.atomic(savepoint=False), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(_APPEND, {"payload": payload, "created_at": entry.created_at, "actor": actor_name, "action": action,
                                  "object_type": object_type, "object_id": entry.object_id, "data": json.dumps(data, ensure_ascii=False)})
            entry.id, entry.prev_hash, entry.hash = cur.fetchone()
        else:  # SQLite: the IMMEDIATE transaction already holds the database's write lock
            cur.execute(f"SELECT hash FROM {_HEAD} WHERE id = 1")
            head = cur.fetchone()
            entry.prev_hash = head[0] if head else GENESIS
            entry.hash = digest(entry.prev_hash, payload)
            entry.save()
            cur.execute(f"INSERT INTO {_HEAD} (id, prev, hash) VALUES (1, %s, %s) "
                        "ON CONFLICT (id) DO UPDATE SET prev = excluded.prev, hash = excluded.hash", [entry.prev_hash, entry.hash])
    entry._state.adding = False
    return entry


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""


def _entry_hash(e: AuditEntry) -> str:
    if e.scheme == 1:
        return _digest_v1(e.prev_hash, e.created_at, e.actor, e.action, e.object_type, e.object_id, e.data)
    return digest(e.prev_hash, _payload(e.created_at, e.actor, e.action, e.object_type, e.object_id, e.data))


def verify(batch: int = 5000) -> VerifyResult:
    """Walk the chain in id order; report the first entry whose link or content does not match, and
    entries cut off the end (the head names a hash the walk never reached)."""
    head = AuditHead.objects.filter(pk=1).values_list("hash", flat=True).first() or GENESIS  # before the walk:
    seen_head = head == GENESIS  # entries appended meanwhile only lengthen the chain past it
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = list(AuditEntry.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not rows:
            if not seen_head:
                return VerifyResult(False, checked, None, "日志末尾的记录被删除(链头指向的记录不存在)")
            return VerifyResult(True, checked)
        for e in rows:
            if e.prev_hash != prev:
                return VerifyResult(False, checked, e.id, "与前一条记录的链接断开(有记录被删除或插入)")
            if e.scheme not in (1, 2) or _entry_hash(e) != e.hash:
                return VerifyResult(False, checked, e.id, "记录内容与其哈希不符(记录被修改)")
            seen_head = seen_head or e.hash == head
            prev = e.hash
            checked += 1
            last_id = e.id

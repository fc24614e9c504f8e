"""The audit log: `record()` appends one entry chained to the last; `verify()` walks the chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from .models import AuditEntry

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x6269616E6D696E  # "bianmin": serialises appenders on PostgreSQL


def _digest(prev_hash: str, created_at, actor, action, object_type, object_id, data) -> str:
    payload = json.dumps(
        [prev_hash, created_at.isoformat(), actor, action, object_type, str(object_id), data],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(action: str, *, actor="", obj=None, object_type: str = "", object_id="", data: dict | None = None) -> AuditEntry:
    """Append an entry. Call inside the business transaction so the log and the change land together."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    actor_name = getattr(actor, "username", None) or str(actor or "")
    # The JSON round trip makes the stored data exactly what the hash covered.
    data = json.loads(json.dumps(data or {}, ensure_ascii=False, default=str))
    # Inside the caller's transaction no savepoint is needed: if the append fails, the business
    # change must fail with it.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
        # The last hash in a statement of its own, after the lock: under READ COMMITTED a statement
        # sees what was committed when it started, so reading it in the locking statement could
        # miss an entry committed while this one waited for the lock.
        # (On SQLite the IMMEDIATE transaction already holds the database's write lock.)
        with connection.cursor() as cur:  # plain SQL: this runs in every business transaction
            cur.execute(f"SELECT hash FROM {AuditEntry._meta.db_table} ORDER BY id DESC LIMIT 1")
            last = cur.fetchone()
        prev = last[0] if last else GENESIS
        now = timezone.now()
        entry = AuditEntry(
            created_at=now, actor=actor_name, action=action, object_type=object_type,
            object_id=str(object_id), data=data, prev_hash=prev,
            hash=_digest(prev, now, actor_name, action, object_type, str(object_id), data),
        )
        entry.save()
    return entry


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""


def verify(batch: int = 5000) -> VerifyResult:
    """Walk the chain in id order; report the first entry whose link or content does not match."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = list(AuditEntry.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not rows:
            return VerifyResult(True, checked)
        for e in rows:
            if e.prev_hash != prev:
                return VerifyResult(False, checked, e.id, "与前一条记录的链接断开(有记录被删除或插入)")
            if _digest(e.prev_hash, e.created_at, e.actor, e.action, e.object_type, e.object_id, e.data) != e.hash:
                return VerifyResult(False, checked, e.id, "记录内容与其哈希不符(记录被修改)")
            prev = e.hash
            checked += 1
            last_id = e.id

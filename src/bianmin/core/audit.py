"""The audit log: `record()` appends one entry chained to the last; `verify()` walks the chain."""

from __future__ import annotations

import hashlib
import json
import secrets
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
_LAST = f"SELECT hash FROM {_ENTRY} ORDER BY id DESC LIMIT 1"
# One statement takes the head's row lock (held until commit: appenders queue here), moves the head
# on from the newest committed hash (ON CONFLICT DO UPDATE always sees it) and writes the entry.
# Without a head row (a flushed test database, a data-only restore) the chain goes on from the
# newest entry.
_APPEND = (
    f"WITH last AS (SELECT coalesce(({_LAST}), '{GENESIS}') AS hash), "
    f"head AS (INSERT INTO {_HEAD} (id, prev, hash) "
    f"SELECT 1, last.hash, encode(sha256(convert_to(last.hash || %(payload)s, 'UTF8')), 'hex') FROM last "
    f"ON CONFLICT (id) DO UPDATE SET prev = {_HEAD}.hash, "
    f"hash = encode(sha256(convert_to({_HEAD}.hash || %(payload)s, 'UTF8')), 'hex') RETURNING prev, hash) "
    f"INSERT INTO {_ENTRY} (created_at, actor, action, object_type, object_id, data, prev_hash, hash, scheme) "
    f"SELECT %(created_at)s, %(actor)s, %(action)s, %(object_type)s, %(object_id)s, %(data)s, head.prev, head.hash, 2 "
    f"FROM head RETURNING id, prev_hash, hash"
)


def statement_parts(action: str, *, actor, object_type: str, source: str, object_id_sql: str, data: dict,
                    data_sql: dict[str, str]) -> list[tuple[str, list]]:
    """The CTEs (`ap`, `ah`, `ae`: entry id in ae.id) appending an entry inside a larger PostgreSQL
    statement that itself makes the object (a case and its number): `object_id_sql` and the values of
    `data_sql` are SQL over `source`. They must be text that JSON writes as it is (ids, case numbers):
    the payload is hashed with random tokens in their place, which the statement replaces. If the head
    row is missing the statement fails on prev_hash (NOT NULL): call `ensure_head()` and run it again."""
    actor_name = getattr(actor, "username", None) or str(actor or "")
    data = json.loads(json.dumps(data, ensure_ascii=False, default=str))
    tokens = {key: secrets.token_hex(16) for key in ("__object_id__", *data_sql)}
    now = timezone.now()
    payload = _payload(now, actor_name, action, object_type, tokens["__object_id__"],
                       {**data, **{key: tokens[key] for key in data_sql}})
    filled, params = "%s::text", [payload]  # casts: the statement may be bound and prepared on the server
    for key, expr in (("__object_id__", object_id_sql), *data_sql.items()):
        filled, params = f"replace({filled}, %s::text, ({expr})::text)", [*params, tokens[key]]
    merged = " || ".join(["%s::jsonb", *(f"jsonb_build_object(%s::text, ({expr})::text)" for expr in data_sql.values())])
    merged_params = [json.dumps(data, ensure_ascii=False)] + [key for key in data_sql]
    return [
        (f"ap AS (SELECT {filled} AS payload, {merged} AS data, ({object_id_sql})::text AS object_id FROM {source})",
         params + merged_params),
        (f"ah AS (UPDATE {_HEAD} h SET prev = h.hash, hash = encode(sha256(convert_to(h.hash || ap.payload, 'UTF8')), 'hex') "
         "FROM ap WHERE h.id = 1 RETURNING h.prev, h.hash)", []),
        (f"ae AS (INSERT INTO {_ENTRY} (created_at, actor, action, object_type, object_id, data, prev_hash, hash, scheme) "
         "SELECT %s::timestamptz, %s::varchar, %s::varchar, %s::varchar, ap.object_id, ap.data, (SELECT prev FROM ah), "
         "(SELECT hash FROM ah), 2 FROM ap RETURNING id)",
         [now, actor_name, action, object_type]),
    ]


def ensure_head() -> None:
    """The head row, where it went missing (a test database flushed, a data-only restore): at the
    newest entry, so the chain goes on from there."""
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {_HEAD} (id, prev, hash) SELECT 1, %s, coalesce(({_LAST}), %s) ON CONFLICT (id) DO NOTHING",
                    [GENESIS, GENESIS])


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
            if head is None:
                cur.execute(_LAST)
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

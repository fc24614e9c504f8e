"""The audit log: `record()` appends one entry chained to the last; `verify()` walks the chain;
`write_checkpoint()` anchors the chain's newest entry outside the database.

Scheme 3 (since 2026-12): each entry's hash is HMAC-SHA256 under settings.AUDIT_KEY
(BIANMIN_AUDIT_KEY, never stored in the database) of the previous hash followed by the entry's JSON.
Whoever can write the database but lacks the key cannot forge an entry, edit one, or re-chain the
entries after an edited or deleted one. What the key cannot catch, entries cut off the end, the
checkpoints catch: signed (SM2, a department's seal) records of (entry id, hash) kept in a store
outside the database; `verify` requires every checkpointed entry to be there with its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import AuditEntry, AuditHead

GENESIS = "0" * 64
SCHEME = 3
CHECKPOINT_DIR = "audit-checkpoints"


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
    """Scheme 2 (no key): SHA-256 of the previous hash followed by the entry's JSON."""
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def keyed_digest(prev_hash: str, payload: str) -> str:
    """Scheme 3: HMAC-SHA256 under the audit key of what scheme 2 hashes. PostgreSQL computes the same
    with its built-in sha256() by the HMAC construction (`_hmac_sql`), so an append stays one statement."""
    return hmac.new(settings.AUDIT_KEY, (prev_hash + payload).encode("utf-8"), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4)
def _pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC's (key XOR ipad, key XOR opad) for a key no longer than SHA-256's 64-byte block (RFC 2104)."""
    block = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def _hmac_sql(text_sql: str) -> str:
    """SQL for the hex HMAC-SHA256 of `text_sql` (UTF-8) with the key's pads as the first two
    parameters (inner, outer). They are bound on the server (core.sql.fetchone_prepared), so the key
    never appears in a statement's text (pg_stat_activity, the statement log)."""
    return f"encode(sha256(%s::bytea || sha256(%s::bytea || convert_to({text_sql}, 'UTF8'))), 'hex')"


def _pad_params() -> list[bytes]:
    inner, outer = _pads(settings.AUDIT_KEY)
    return [outer, inner]


def head_mac(keyed_from: int | None) -> str:
    return hmac.new(settings.AUDIT_KEY, f"bianmin-audit-head:{keyed_from}".encode(), hashlib.sha256).hexdigest()


_ENTRY = AuditEntry._meta.db_table
_HEAD = AuditHead._meta.db_table
_LAST = f"SELECT hash FROM {_ENTRY} ORDER BY id DESC LIMIT 1"
# One statement takes the head's row lock (held until commit: appenders queue here; the UPDATE then
# sees the newest committed hash), moves the head on and writes the entry. Without a head row it
# writes nothing: the caller puts the head back (`ensure_head`) and runs it again.
_APPEND = (
    f"WITH ah AS (UPDATE {_HEAD} h SET prev = h.hash, hash = {_hmac_sql('h.hash || %s::text')} WHERE h.id = 1 "
    "RETURNING h.prev, h.hash) "
    f"INSERT INTO {_ENTRY} (created_at, actor, action, object_type, object_id, data, prev_hash, hash, scheme) "
    f"SELECT %s::timestamptz, %s::varchar, %s::varchar, %s::varchar, %s::varchar, %s::jsonb, ah.prev, ah.hash, {SCHEME} "
    "FROM ah RETURNING id, prev_hash, hash"
)


def statement_parts(action: str, *, actor, object_type: str, source: str, object_id_sql: str, data: dict,
                    data_sql: dict[str, str]) -> list[tuple[str, list]]:
    """The CTEs (`ap`, `ah`, `ae`: entry id in ae.id) appending an entry inside a larger PostgreSQL
    statement that itself makes the object (a case and its number): `object_id_sql` and the values of
    `data_sql` are SQL over `source`. They must be text that JSON writes as it is (ids, case numbers):
    the payload is hashed with random tokens in their place, which the statement replaces. If the head
    row is missing the statement fails on prev_hash (NOT NULL): call `ensure_head()` and run it again.
    The statement must be bound on the server (core.sql.fetchone_prepared): it carries the key's pads."""
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
        (f"ah AS (UPDATE {_HEAD} h SET prev = h.hash, hash = {_hmac_sql('h.hash || ap.payload')} "
         "FROM ap WHERE h.id = 1 RETURNING h.prev, h.hash)", _pad_params()),
        (f"ae AS (INSERT INTO {_ENTRY} (created_at, actor, action, object_type, object_id, data, prev_hash, hash, scheme) "
         "SELECT %s::timestamptz, %s::varchar, %s::varchar, %s::varchar, ap.object_id, ap.data, (SELECT prev FROM ah), "
         f"(SELECT hash FROM ah), {SCHEME} FROM ap RETURNING id)",
         [now, actor_name, action, object_type]),
    ]


def ensure_head() -> None:
    """The head row, where it went missing (a test database flushed, a data-only restore): at the
    newest entry, so the chain goes on from there. The keyed chain starts at the first scheme-3 entry
    there is, or at the next one. `verify` reports a missing head while entries exist; what was cut
    off the end with it, the checkpoints show."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT (SELECT min(id) FROM {_ENTRY} WHERE scheme = {SCHEME}), (SELECT max(id) FROM {_ENTRY}), "
                    f"coalesce(({_LAST}), %s)", [GENESIS])
        first_keyed, last_id, last_hash = cur.fetchone()
        keyed_from = first_keyed or (last_id + 1 if last_id else 1)
        if last_id:  # where the newest checkpoint says the keyed chain began, if it says so
            try:
                checkpoint = latest_checkpoint()
            except OSError:  # the store unreachable: verify will say so against the checkpoint
                checkpoint = None
            if checkpoint is not None and checkpoint.keyed_from:
                keyed_from = checkpoint.keyed_from
        cur.execute(f"INSERT INTO {_HEAD} (id, prev, hash, keyed_from, mac) VALUES (1, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                    [GENESIS, last_hash, keyed_from, head_mac(keyed_from)])


def record(action: str, *, actor="", obj=None, object_type: str = "", object_id="", data: dict | None = None) -> AuditEntry:
    """Append an entry. Call inside the business transaction so the log and the change land together."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    actor_name = getattr(actor, "username", None) or str(actor or "")
    # The JSON round trip makes the stored data exactly what the hash covered.
    data = json.loads(json.dumps(data or {}, ensure_ascii=False, default=str))
    entry = AuditEntry(created_at=timezone.now(), actor=actor_name, action=action, object_type=object_type,
                       object_id=str(object_id), data=data, scheme=SCHEME)
    payload = _payload(entry.created_at, actor_name, action, object_type, entry.object_id, data)
    # Inside the caller's transaction no savepoint is needed: if the append fails, the business
    # change must fail with it.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            from .sql import fetchone_prepared

            params = [*_pad_params(), payload, entry.created_at, actor_name, action, object_type, entry.object_id,
                      json.dumps(data, ensure_ascii=False)]
            row = fetchone_prepared(_APPEND, params)
            if row is None:  # no head row: put it back, once
                ensure_head()
                row = fetchone_prepared(_APPEND, params)
            entry.id, entry.prev_hash, entry.hash = row
        else:  # SQLite: the IMMEDIATE transaction already holds the database's write lock
            with connection.cursor() as cur:
                cur.execute(f"SELECT hash FROM {_HEAD} WHERE id = 1")
                head = cur.fetchone()
                if head is None:
                    ensure_head()
                    cur.execute(f"SELECT hash FROM {_HEAD} WHERE id = 1")
                    head = cur.fetchone()
                entry.prev_hash = head[0]
                entry.hash = keyed_digest(entry.prev_hash, payload)
                entry.save()
                cur.execute(f"UPDATE {_HEAD} SET prev = %s, hash = %s WHERE id = 1", [entry.prev_hash, entry.hash])
    entry._state.adding = False
    return entry


# ----------------------------------------------------------------------------- checkpoints

class CheckpointSeal(Protocol):
    """Signs and checks checkpoints (licences.seals.CheckpointSeal: SM2 with a department's seal)."""

    def sign(self, data: bytes) -> dict: ...  # {"department", "version", "public_key", "signature"}

    def verify(self, data: bytes, seal: dict) -> bool: ...


@dataclass
class Checkpoint:
    entry_id: int
    hash: str
    keyed_from: int | None
    created_at: str
    seal: dict = field(default_factory=dict)
    name: str = ""

    def body(self) -> bytes:
        """What the seal signs: the checkpoint without its signature, as sorted-key JSON."""
        return json.dumps({"kind": "bianmin-audit-checkpoint", "entry_id": self.entry_id, "hash": self.hash,
                           "keyed_from": self.keyed_from, "created_at": self.created_at},
                          sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> str:
        return json.dumps({"kind": "bianmin-audit-checkpoint", "entry_id": self.entry_id, "hash": self.hash,
                           "keyed_from": self.keyed_from, "created_at": self.created_at, "seal": self.seal},
                          ensure_ascii=False, sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str, name: str = "") -> Checkpoint | None:
        try:
            raw = json.loads(text)
            if raw.get("kind") != "bianmin-audit-checkpoint":
                return None
            return cls(entry_id=int(raw["entry_id"]), hash=str(raw["hash"]),
                       keyed_from=None if raw.get("keyed_from") is None else int(raw["keyed_from"]),
                       created_at=str(raw["created_at"]), seal=dict(raw.get("seal") or {}), name=name)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def _storage():
    from django.core.files.storage import storages

    return storages[settings.AUDIT_CHECKPOINT_STORAGE]


def latest_checkpoint() -> Checkpoint | None:
    """The newest checkpoint in the store (names sort by entry id, then time). A file that cannot be
    read as a checkpoint counts as a broken one: it fails `verify` (seal {} does not verify)."""
    storage = _storage()
    try:
        _, files = storage.listdir(CHECKPOINT_DIR)
    except FileNotFoundError:
        return None
    names = sorted(f for f in files if f.endswith(".json"))
    if not names:
        return None
    name = f"{CHECKPOINT_DIR}/{names[-1]}"
    with storage.open(name, "rb") as fh:
        text = fh.read().decode("utf-8", "replace")
    return Checkpoint.from_json(text, name) or Checkpoint(entry_id=0, hash="", keyed_from=None, created_at="", name=name)


def write_checkpoint(seal: CheckpointSeal) -> Checkpoint:
    """Check the chain from the newest checkpoint on, then write a signed checkpoint of its newest entry.
    Raises AuditBroken (with the VerifyResult) instead of anchoring a chain that does not verify."""
    previous = latest_checkpoint()
    result = verify(checkpoint=previous, seal=seal, since_checkpoint=True)
    if not result.ok:
        raise AuditBroken(result)
    if not AuditHead.objects.filter(pk=1).exists():  # an empty log (verify refuses a missing head otherwise)
        ensure_head()
    head = AuditHead.objects.filter(pk=1).values_list("keyed_from", flat=True).first()
    now = timezone.now()
    # the newest entry the walk checked: one appended since is anchored by the next checkpoint
    cp = Checkpoint(entry_id=result.last[0], hash=result.last[1], keyed_from=head, created_at=now.isoformat())
    cp.seal = seal.sign(cp.body())
    cp.name = _storage().save(f"{CHECKPOINT_DIR}/{cp.entry_id:012d}-{now:%Y%m%dT%H%M%S%fZ}.json",
                              _content(cp.to_json()))
    return cp


def _content(text: str):
    from django.core.files.base import ContentFile

    return ContentFile(text.encode("utf-8"))


# ----------------------------------------------------------------------------- verification

@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""
    checkpoint: Checkpoint | None = None
    last: tuple[int, str] = (0, GENESIS)  # the newest entry the walk checked (id, hash)


class AuditBroken(Exception):
    def __init__(self, result: VerifyResult):
        super().__init__(result.reason)
        self.result = result


def _entry_hash(e: AuditEntry) -> str:
    if e.scheme == 1:
        return _digest_v1(e.prev_hash, e.created_at, e.actor, e.action, e.object_type, e.object_id, e.data)
    payload = _payload(e.created_at, e.actor, e.action, e.object_type, e.object_id, e.data)
    return keyed_digest(e.prev_hash, payload) if e.scheme == SCHEME else digest(e.prev_hash, payload)


def verify(batch: int = 5000, *, checkpoint: Checkpoint | None = None, seal: CheckpointSeal | None = None,
           since_checkpoint: bool = False) -> VerifyResult:
    """Walk the chain in id order; report the first entry whose link or content does not match, an entry
    after the keyed chain began that is not keyed, a missing or altered head, entries cut off the end
    (the head, or the checkpoint, names an entry the walk never reached). With a checkpoint (its seal
    checked by `seal`), the entry it names must be in the chain with its hash; `since_checkpoint`
    walks from that entry on only (what `write_checkpoint` needs)."""
    head = AuditHead.objects.filter(pk=1).values_list("hash", "keyed_from", "mac").first()  # before the walk:
    # entries appended meanwhile only lengthen the chain past it
    if checkpoint is not None and (seal is None or not checkpoint.seal or not seal.verify(checkpoint.body(), checkpoint.seal)):
        return VerifyResult(False, 0, None, f"检查点 {checkpoint.name} 的签章无效(检查点被伪造或修改)", checkpoint)
    if head is None:
        if AuditEntry.objects.exists() or (checkpoint is not None and checkpoint.entry_id):
            return VerifyResult(False, 0, None, "审计日志链头记录缺失(链头被删除,末尾的记录可能随之被删除)", checkpoint)
        return VerifyResult(True, 0, checkpoint=checkpoint)
    head_hash, keyed_from, mac = head
    if keyed_from is None or not hmac.compare_digest(mac, head_mac(keyed_from)):
        return VerifyResult(False, 0, None, "审计日志链头被修改(密钥链的起点与其校验码不符)", checkpoint)
    if checkpoint is not None and checkpoint.keyed_from != keyed_from:
        return VerifyResult(False, 0, None, "审计日志链头与检查点记录的密钥链起点不符(链头被替换)", checkpoint)
    seen_head = head_hash == GENESIS
    pending_cp = checkpoint if checkpoint is not None and checkpoint.entry_id else None
    prev = GENESIS
    checked = 0
    last_id = 0
    if since_checkpoint and pending_cp is not None:
        start = AuditEntry.objects.filter(id=pending_cp.entry_id).values_list("hash", flat=True).first()
        if start != pending_cp.hash:
            return VerifyResult(False, 0, pending_cp.entry_id, _checkpoint_reason(pending_cp, start is None), checkpoint)
        prev, last_id, pending_cp = start, pending_cp.entry_id, None
        seen_head = seen_head or start == head_hash
    while True:
        rows = list(AuditEntry.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not rows:
            if pending_cp is not None:
                return VerifyResult(False, checked, None, _checkpoint_reason(pending_cp, True), checkpoint)
            if not seen_head:
                return VerifyResult(False, checked, None, "日志末尾的记录被删除(链头指向的记录不存在)", checkpoint)
            return VerifyResult(True, checked, checkpoint=checkpoint, last=(last_id, prev))
        for e in rows:
            if pending_cp is not None and e.id > pending_cp.entry_id:
                return VerifyResult(False, checked, pending_cp.entry_id, _checkpoint_reason(pending_cp, True), checkpoint)
            if e.prev_hash != prev:
                return VerifyResult(False, checked, e.id, "与前一条记录的链接断开(有记录被删除或插入)", checkpoint)
            if e.id >= keyed_from and e.scheme != SCHEME:
                return VerifyResult(False, checked, e.id, f"记录使用了已停用的哈希方式 {e.scheme}(密钥链启用后的记录都应为方式 {SCHEME},"
                                                          "记录被伪造或重新计算)", checkpoint)
            if e.scheme not in (1, 2, SCHEME) or not hmac.compare_digest(_entry_hash(e), e.hash):
                return VerifyResult(False, checked, e.id, "记录内容与其哈希不符(记录被修改或伪造)", checkpoint)
            if pending_cp is not None and e.id == pending_cp.entry_id:
                if e.hash != pending_cp.hash:
                    return VerifyResult(False, checked, e.id, _checkpoint_reason(pending_cp, False), checkpoint)
                pending_cp = None
            seen_head = seen_head or e.hash == head_hash
            prev = e.hash
            checked += 1
            last_id = e.id


def _checkpoint_reason(cp: Checkpoint, missing: bool) -> str:
    what = "不存在(记录被删除)" if missing else "的哈希与检查点不符(记录被替换)"
    return f"检查点({cp.created_at[:19].replace('T', ' ')} UTC)记录的第 {cp.entry_id} 号记录{what}"

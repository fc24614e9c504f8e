"""Department seals (电子印章): SM2 key pairs, signatures with the SM3 digest (GB/T 32918, GB/T 35276).

* The SM2 protocol is gmssl's (`CryptSM2.sign_with_sm3` / `verify_with_sm3`). Two things are ours:
  - the nonce k: gmssl's default comes from `random.choice`, which is predictable; every signature
    here takes k = secrets.randbelow(n - 1) + 1, a fresh value in [1, n-1] from the OS's CSPRNG.
    (A repeated or predictable k gives away the private key.)
  - scalar multiplication: gmssl multiplies points through hex strings (≈20 ms per multiplication,
    so ≈37 ms per verification on this machine). `_Sm2._kg` answers the same multiplication from a
    fixed-base table built once per process: for the curve's base point G 32 windows of 8 bits
    (32 point additions), for each seal's public key 64 windows of 4 bits (64 additions); ≈20-50× faster. It returns exactly what
    gmssl's would; tests compare both on random scalars and check signatures across both.
  Verification follows gmssl's verify() step by step (GB/T 32918.2, 7.1) but adds s·G and t·P in one
  pass over the tables, with one inversion; tests check it against gmssl's own verify_with_sm3.
  The digest e = SM3(Z_A || M) with Z_A computed once per public key (default user ID
  1234567812345678, as gmssl and GB/T 35276 use), SM3 from OpenSSL through hashlib when it has it.
* Private keys are stored only encrypted: AES-256-GCM under settings.SEAL_KEY (env BIANMIN_SEAL_KEY),
  with the department, version and public key as associated data so that an encrypted key cannot
  be moved to another seal row. They are decrypted for one signature and never logged; `Seal`'s
  repr and the admin show only the public key.
* Rotation: `rotate_seal` retires the active seal and creates the next version; retired seals keep
  their public key, so every licence they signed still verifies.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections import OrderedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from gmssl import sm2, sm3

from bianmin.core import audit
from bianmin.core.errors import PermissionDenied
from bianmin.org.models import Role

from .models import Seal

_T = sm2.default_ecc_table
P = int(_T["p"], 16)
A = int(_T["a"], 16)
B = int(_T["b"], 16)
N = int(_T["n"], 16)
G_HEX = _T["g"].lower()
USER_ID = b"1234567812345678"  # GB/T 35276 default signer ID
ENCRYPTION_VERSION = b"\x01"
_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{128}")  # r || s, 32 bytes each
_HEX_KEY = re.compile(r"[0-9a-f]{128}")  # x || y as stored


# ----------------------------------------------------------------------------- SM3

if "sm3" in hashlib.algorithms_available:
    def sm3_digest(data: bytes) -> bytes:
        return hashlib.new("sm3", data).digest()
else:  # pragma: no cover - OpenSSL without SM3: gmssl's pure-Python SM3
    def sm3_digest(data: bytes) -> bytes:
        return bytes.fromhex(sm3.sm3_hash(list(data)))


def z_a(public_key_hex: str) -> bytes:
    """Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GB/T 32918.2, 5.5)."""
    return sm3_digest(
        (len(USER_ID) * 8).to_bytes(2, "big") + USER_ID
        + bytes.fromhex(_T["a"] + _T["b"] + _T["g"] + public_key_hex)
    )


# ----------------------------------------------------------------------------- fast point multiplication

def _affine_add(p1, p2):
    """Affine addition on y^2 = x^3 + ax + b over F_p; None is the point at infinity."""
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    x1, y1 = p1
    x2, y2 = p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        lam = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def _table(point, w: int = 4) -> list[list]:
    """rows[i][d] = d * 2^(w*i) * point (affine), d in 1..2^w-1: any k < 2^256 is a sum of 256/w entries."""
    rows = []
    base = point
    for _ in range(-(-256 // w)):
        row = [None, base]
        for _d in range(2, 1 << w):
            row.append(_affine_add(row[-1], base))
        rows.append(row)
        base = _affine_add(row[-1], base)  # 2^w * base
    return rows


def _multiply(*terms) -> tuple[int, int] | None:
    """k1*P1 + k2*P2 + … from the points' tables, terms being (k, rows, w): one Jacobian accumulator,
    mixed additions (the curve's a = -3), one inversion at the end."""
    X = Y = Z = 0  # Z == 0: infinity
    for k, rows, w in terms:
        i = 0
        mask = (1 << w) - 1
        while k:
            d = k & mask
            if d:
                x2, y2 = rows[i][d]
                if Z == 0:
                    X, Y, Z = x2, y2, 1
                else:
                    zz = Z * Z % P
                    h = (x2 * zz - X) % P
                    r = (y2 * zz * Z - Y) % P
                    if h == 0:
                        if r == 0:  # the same point: double it (a = -3)
                            delta, gamma = zz, Y * Y % P
                            beta = X * gamma % P
                            alpha = 3 * (X - delta) * (X + delta) % P
                            X3 = (alpha * alpha - 8 * beta) % P
                            Z = ((Y + Z) * (Y + Z) - gamma - delta) % P
                            Y = (alpha * (4 * beta - X3) - 8 * gamma * gamma) % P
                            X = X3
                        else:  # the point's inverse: infinity
                            X = Y = Z = 0
                    else:
                        hh = h * h % P
                        hhh = h * hh % P
                        v = X * hh % P
                        X3 = (r * r - hhh - 2 * v) % P
                        Y = (r * (v - X3) - Y * hhh) % P
                        Z = Z * h % P
                        X = X3
            k >>= w
            i += 1
    if Z == 0:
        return None
    zi = pow(Z, -1, P)
    zi2 = zi * zi % P
    return X * zi2 % P, Y * zi2 * zi % P


_TABLES: OrderedDict[str, list] = OrderedDict()
_TABLES_LOCK = threading.Lock()
MAX_TABLES = 256  # 960 points (~130 kB) each; one per public key in use
G_WINDOW = 8  # G, used by every signature and verification: 8-bit windows, 32 additions (8,160 points, ~1 MB)
_G_TABLE: list = []


def _table_for(point_hex: str):
    with _TABLES_LOCK:
        rows = _TABLES.get(point_hex)
        if rows is not None:
            _TABLES.move_to_end(point_hex)
            return rows
    rows = _table((int(point_hex[:64], 16), int(point_hex[64:], 16)))
    with _TABLES_LOCK:
        _TABLES[point_hex] = rows
        while len(_TABLES) > MAX_TABLES:
            _TABLES.popitem(last=False)
    return rows


def _g_table() -> list:
    if not _G_TABLE:
        table = _table((int(G_HEX[:64], 16), int(G_HEX[64:], 16)), G_WINDOW)
        with _TABLES_LOCK:
            if not _G_TABLE:
                _G_TABLE.extend(table)
    return _G_TABLE


def point_multiply(k: int, point_hex: str) -> str | None:
    """k * point as gmssl's hex form x || y (64 hex digits each), None for infinity."""
    if point_hex == G_HEX:
        result = _multiply((k, _g_table(), G_WINDOW))
    else:
        result = _multiply((k, _table_for(point_hex), 4))
    return None if result is None else "%064x%064x" % result


class _Sm2(sm2.CryptSM2):
    """gmssl's SM2 with the table-driven multiplication and Z_A computed once."""

    def __init__(self, private_key: str, public_key: str):
        super().__init__(private_key=private_key, public_key=public_key)
        # gmssl strips a "04" prefix with str.lstrip("04"), which also eats leading 0s and 4s of x:
        # set the 128-digit key ourselves.
        self.public_key = public_key
        self._z = z_a(public_key)

    def _kg(self, k, Point):
        if 0 < k < N and len(Point) == 128:
            return point_multiply(k, Point.lower())
        return super()._kg(k, Point)

    def _sm3_z(self, data):
        return sm3_digest(self._z + data).hex()


# ----------------------------------------------------------------------------- keys

def nonce() -> str:
    """A fresh signature nonce k in [1, n-1] from the OS's CSPRNG, as gmssl takes it (64 hex digits)."""
    return "%064x" % (secrets.randbelow(N - 1) + 1)


def generate_key_pair() -> tuple[int, str]:
    """(d, public key hex x||y) with d in [1, n-2] (GB/T 32918.1, 6.1)."""
    d = secrets.randbelow(N - 2) + 1
    return d, point_multiply(d, G_HEX)


def _aad(department_id: int, version: int, public_key: str) -> bytes:
    return f"bianmin-seal:{department_id}:{version}:{public_key}".encode()


def encrypt_private_key(d: int, aad: bytes) -> bytes:
    iv = secrets.token_bytes(12)
    return ENCRYPTION_VERSION + iv + AESGCM(settings.SEAL_KEY).encrypt(iv, d.to_bytes(32, "big"), aad)


def _private_key(seal: Seal) -> int:
    blob = bytes(seal.private_key_encrypted)
    if blob[:1] != ENCRYPTION_VERSION or len(blob) != 1 + 12 + 32 + 16:
        raise RuntimeError(f"seal {seal.pk}: unknown private key format")
    try:
        plain = AESGCM(settings.SEAL_KEY).decrypt(blob[1:13], blob[13:], _aad(seal.department_id, seal.version, seal.public_key))
    except InvalidTag:
        # The wrong BIANMIN_SEAL_KEY, or a key row that was tampered with / moved: an operator's problem.
        raise RuntimeError(f"seal {seal.pk}: private key cannot be decrypted with BIANMIN_SEAL_KEY") from None
    return int.from_bytes(plain, "big")


def _new_seal(department, version: int) -> Seal:
    d, public_key = generate_key_pair()
    return Seal.objects.create(
        department=department, version=version, public_key=public_key,
        private_key_encrypted=encrypt_private_key(d, _aad(department.pk, version, public_key)),
    )


def active_seal(department) -> Seal:
    """The department's seal in use; its first one is created on demand (a race creates one, not two)."""
    seal = Seal.objects.filter(department=department, retired_at__isnull=True).first()
    if seal is not None:
        return seal
    try:
        with transaction.atomic():
            seal = _new_seal(department, 1)
            audit.record("seal.create", actor="system", obj=seal,
                         data={"department": department.pk, "version": 1, "public_key": seal.public_key})
            return seal
    except IntegrityError:  # another process created it meanwhile
        return Seal.objects.get(department=department, retired_at__isnull=True)


def rotate_seal(department, actor) -> Seal:
    """Retire the active seal and start the next version (system admin of the department, or the system)."""
    staff = getattr(actor, "staff", None) if actor is not None else None
    if actor is not None and (staff is None or staff.role != Role.ADMIN or staff.department_id != department.pk):
        raise PermissionDenied("只有本部门的系统管理员可以更换印章密钥", code="role_not_allowed")
    with transaction.atomic():
        # lock the department's seals so two rotations queue instead of both retiring the same one
        current = list(Seal.objects.select_for_update().filter(department=department, retired_at__isnull=True))
        now = timezone.now()
        Seal.objects.filter(pk__in=[s.pk for s in current]).update(retired_at=now)
        version = (Seal.objects.filter(department=department).aggregate(v=Max("version"))["v"] or 0) + 1
        seal = _new_seal(department, version)
        audit.record("seal.rotate", actor=actor or "system", obj=seal,
                     data={"department": department.pk, "version": version, "public_key": seal.public_key,
                           "retired": [s.version for s in current]})
    return seal


# ----------------------------------------------------------------------------- sign and verify

_VERIFIERS: OrderedDict[str, _Sm2] = OrderedDict()
_VERIFIERS_LOCK = threading.Lock()


def _verifier(public_key: str) -> _Sm2 | None:
    """The cached public-key object (Z_A computed, table built once per process); None for a bad key."""
    with _VERIFIERS_LOCK:
        obj = _VERIFIERS.get(public_key)
        if obj is not None:
            _VERIFIERS.move_to_end(public_key)
            return obj
    if not isinstance(public_key, str) or not _HEX_KEY.fullmatch(public_key):
        return None
    if not on_curve(int(public_key[:64], 16), int(public_key[64:], 16)):
        return None
    obj = _Sm2(private_key="", public_key=public_key)
    _table_for(public_key)
    with _VERIFIERS_LOCK:
        _VERIFIERS[public_key] = obj
        while len(_VERIFIERS) > MAX_TABLES:
            _VERIFIERS.popitem(last=False)
    return obj


def sign(seal: Seal, data: bytes) -> str:
    """SM2 signature r || s (128 hex digits) of `data` under the seal's private key."""
    signer = _Sm2(private_key="%064x" % _private_key(seal), public_key=seal.public_key)
    try:
        while True:
            signature = signer.sign_with_sm3(data, nonce())
            if signature is not None:  # gmssl gives None for the (negligible) r = 0, r + k = n, s = 0
                return signature
    finally:
        signer.private_key = ""


def verify(seal: Seal, data: bytes, signature: str) -> bool:
    """True only for a well-formed signature (r, s in [1, n-1]) of exactly `data` by this seal."""
    return verify_with_public_key(seal.public_key, data, signature)


def verify_with_public_key(public_key: str, data: bytes, signature: str) -> bool:
    if not isinstance(signature, str) or not _HEX_SIGNATURE.fullmatch(signature):
        return False
    r, s = int(signature[:64], 16), int(signature[64:], 16)
    if not (0 < r < N and 0 < s < N):
        return False
    verifier = _verifier(public_key)
    if verifier is None:
        return False
    # GB/T 32918.2, 7.1 — the steps of gmssl's verify(), with both multiplications in one pass over the
    # tables and one inversion (gmssl's own takes ≈37 ms here; tests check both agree).
    e = int.from_bytes(sm3_digest(verifier._z + data), "big")
    t = (r + s) % N
    if t == 0:
        return False
    point = _multiply((s, _g_table(), G_WINDOW), (t, _table_for(public_key), 4))
    if point is None:
        return False
    return (e + point[0]) % N == r


# ----------------------------------------------------------------------------- audit checkpoints

def checkpoint_department():
    """The department whose seal signs the audit log's checkpoints: settings.AUDIT_CHECKPOINT_SEAL (a USCC),
    else the city's approval bureau, else the first city-level department. None before any exists."""
    from bianmin.org.models import Department, Level

    if settings.AUDIT_CHECKPOINT_SEAL:
        return Department.objects.filter(uscc=settings.AUDIT_CHECKPOINT_SEAL).first()
    departments = Department.objects.filter(level=Level.CITY).order_by("id")
    return departments.filter(kind=Department.Kind.APPROVAL_BUREAU).first() or departments.first()


class CheckpointSeal:
    """core.audit's checkpoint signer: SM2 with a department's active seal. A checkpoint verifies when
    its signature is good for the public key it names and that key is one of the platform's seals (any
    version: a rotated seal still verifies the checkpoints it signed)."""

    def sign(self, data: bytes) -> dict:
        department = checkpoint_department()
        if department is None:
            raise LookupError("没有可用于签署检查点的部门印章:请先建立部门(或设置 BIANMIN_AUDIT_CHECKPOINT_SEAL)")
        seal = active_seal(department)
        return {"department": department.uscc, "version": seal.version, "public_key": seal.public_key,
                "signature": sign(seal, data)}

    def verify(self, data: bytes, seal: dict) -> bool:
        public_key, signature = seal.get("public_key"), seal.get("signature")
        if not isinstance(public_key, str) or not Seal.objects.filter(public_key=public_key).exists():
            return False
        return verify_with_public_key(public_key, data, signature)

"""Seals: SM2 signatures with SM3, a fresh CSPRNG nonce per signature, private keys only encrypted, rotation."""

import secrets

import pytest
from django.db import connection
from gmssl import sm2

from bianmin.core.errors import PermissionDenied
from bianmin.licences import seals
from bianmin.licences.models import Seal
from tests.conftest import make_staff
from bianmin.org.models import Role


def _plain_gmssl(d: int | None, public_key: str) -> sm2.CryptSM2:
    """gmssl as it comes, without our table-driven multiplication: the reference."""
    c = sm2.CryptSM2(private_key="%064x" % d if d else "", public_key="")
    c.public_key = public_key  # see seals._Sm2: gmssl's lstrip("04") would damage some keys
    return c


def test_active_seal_created_once_per_department(departments):
    market = departments["market"]
    first = seals.active_seal(market)
    assert seals.active_seal(market) == first
    assert (first.version, first.retired_at) == (1, None)
    assert len(first.public_key) == 128
    assert seals.active_seal(departments["police"]) != first


def test_signature_verifies_and_any_altered_byte_fails(departments):
    seal = seals.active_seal(departments["market"])
    data = '{"holder_name":"湛江市海鲜餐饮有限公司","number":"JY34408000012"}'.encode()
    signature = seals.sign(seal, data)
    assert len(signature) == 128
    assert seals.verify(seal, data, signature)
    for i in range(len(data)):  # every single byte of the data, flipped
        altered = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
        assert not seals.verify(seal, altered, signature), i
    for i in range(len(signature)):  # every hex digit of the signature, changed
        digit = "0123456789abcdef"[("0123456789abcdef".index(signature[i]) + 1) % 16]
        assert not seals.verify(seal, data, signature[:i] + digit + signature[i + 1:]), i
    assert not seals.verify(seal, data + b" ", signature)


@pytest.mark.parametrize("bad", ["", "zz" * 64, "0" * 128, "f" * 128, "1" * 127, "0x" + "1" * 126, None, 5, "1_" * 64])
def test_malformed_signatures_do_not_verify(departments, bad):
    seal = seals.active_seal(departments["market"])
    assert seals.verify(seal, b"data", bad) is False


def test_signatures_agree_with_gmssl_itself(departments):
    seal = seals.active_seal(departments["market"])
    d = seals._private_key(seal)
    reference = _plain_gmssl(d, seal.public_key)
    data = "食品经营许可证".encode()
    ours = seals.sign(seal, data)
    assert reference.verify_with_sm3(ours, data)  # gmssl accepts our signature
    theirs = reference.sign_with_sm3(data, seals.nonce())
    assert seals.verify(seal, data, theirs)  # we accept gmssl's
    assert not seals.verify(seal, b"other", theirs)


def test_table_multiplication_equals_gmssl(departments):
    seal = seals.active_seal(departments["market"])
    reference = _plain_gmssl(None, seal.public_key)
    for k in [1, 2, 15, 16, 17, seals.N - 1, *(secrets.randbelow(seals.N - 1) + 1 for _ in range(5))]:
        assert seals.point_multiply(k, seals.G_HEX) == reference._kg(k, seals.G_HEX)
        assert seals.point_multiply(k, seal.public_key) == reference._kg(k, seal.public_key)
    assert seals.point_multiply(seals.N, seals.G_HEX) is None  # n * G is the point at infinity


def test_nonce_never_repeated_over_10000_signatures(departments):
    """Each signature's k recovered from the signature itself: s = (1+d)^-1 (k + r) - r, so
    k = (s + r)(1 + d) - r mod n. 10,000 signatures, 10,000 different k, all in [1, n-1]."""
    seal = seals.active_seal(departments["market"])
    d = seals._private_key(seal)
    n = seals.N
    ks = set()
    for i in range(10_000):
        sig = seals.sign(seal, b"licence %d" % (i % 7))  # few distinct messages: the nonce alone must differ
        r, s = int(sig[:64], 16), int(sig[64:], 16)
        k = ((s + r) * (1 + d) - r) % n
        assert 1 <= k < n
        ks.add(k)
    assert len(ks) == 10_000


def test_private_key_is_stored_encrypted(departments):
    seal = seals.active_seal(departments["market"])
    d = seals._private_key(seal)
    with connection.cursor() as cur:
        cur.execute("SELECT private_key_encrypted FROM licences_seal WHERE id = %s", [seal.pk])
        stored = bytes(cur.fetchone()[0])
    plain = d.to_bytes(32, "big")
    assert plain not in stored and plain.hex().encode() not in stored
    assert len(stored) == 1 + 12 + 32 + 16  # version, nonce, ciphertext, GCM tag
    assert "%064x" % d not in repr(seal) and "%064x" % d not in str(seal.__dict__.get("public_key"))


def test_encrypted_key_moved_to_another_seal_does_not_decrypt(departments):
    a = seals.active_seal(departments["market"])
    b = seals.active_seal(departments["police"])
    Seal.objects.filter(pk=b.pk).update(private_key_encrypted=a.private_key_encrypted)
    b.refresh_from_db()
    with pytest.raises(RuntimeError, match="cannot be decrypted"):
        seals.sign(b, b"x")


def test_rotation_keeps_old_signatures_verifiable(departments, staff):
    market = departments["market"]
    old = seals.active_seal(market)
    data = b"signed before rotation"
    old_signature = seals.sign(old, data)
    new = seals.rotate_seal(market, staff["admin"].user)
    old.refresh_from_db()
    assert new.version == 2 and new.retired_at is None and old.retired_at is not None
    assert seals.active_seal(market) == new
    assert new.public_key != old.public_key
    assert seals.verify(old, data, old_signature)
    assert not seals.verify(new, data, old_signature)
    assert seals.verify(new, data, seals.sign(new, data))


def test_only_the_departments_admin_rotates(departments, staff):
    market = departments["market"]
    seals.active_seal(market)
    approver = make_staff("market_approver", market, Role.APPROVER)
    police_admin = make_staff("police_sysadmin", departments["police"], Role.ADMIN)
    for actor in (approver.user, staff["market_clerk"].user, police_admin.user):
        with pytest.raises(PermissionDenied):
            seals.rotate_seal(market, actor)
    assert Seal.objects.filter(department=market).count() == 1


def test_verification_agrees_with_gmssl_on_good_and_damaged_signatures(departments):
    seal = seals.active_seal(departments["market"])
    reference = _plain_gmssl(seals._private_key(seal), seal.public_key)
    for i in range(8):
        data = secrets.token_bytes(40 + i)
        sig = reference.sign_with_sm3(data, seals.nonce())
        damaged = sig[:70] + ("0" if sig[70] != "0" else "1") + sig[71:]
        for candidate in (sig, damaged):
            assert seals.verify(seal, data, candidate) == bool(reference.verify_with_sm3(candidate, data))


@pytest.mark.parametrize("value, expected", [
    ("00" * 32, bytes(32)),
    ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", bytes(range(32))),
])
def test_seal_key_from_the_environment(monkeypatch, value, expected):
    from bianmin import settings as project_settings

    monkeypatch.setenv("BIANMIN_SEAL_KEY", value)
    assert project_settings._seal_key() == expected


@pytest.mark.parametrize("value", ["too-short", "00" * 31, "AAEC"])
def test_a_bad_seal_key_stops_the_start(monkeypatch, value):
    from django.core.exceptions import ImproperlyConfigured

    from bianmin import settings as project_settings

    monkeypatch.setenv("BIANMIN_SEAL_KEY", value)
    with pytest.raises(ImproperlyConfigured):
        project_settings._seal_key()

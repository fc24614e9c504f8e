"""The licence repository at scale: SM2 signing and verification speed, and the public verification page.

Seeds N licences (default 1,000,000) into PostgreSQL (database `bench_licences` unless DATABASE_URL says
otherwise): 20 issuing departments, 5 licence types, every row with REAL SM2 signatures over its
canonical metadata and over its status (signed in a process pool, written with COPY). Then, on one core:

* sign_per_s / verify_per_s: `seals.sign` and `seals.verify` (our wrapper: gmssl's SM2 with a CSPRNG
  nonce and the table-driven point multiplication) over a licence's canonical bytes;
* gmssl's own `CryptSM2.sign_with_sm3` / `verify_with_sm3` (no wrapper, its string-based arithmetic);
* `openssl speed -seconds 3 sm2` on this machine (C, for reference);
* the verification page GET /licences/verify/<identifier>/ through Django's whole stack (and the API
  GET /api/v1/licences/verify) for random licences of the N, median and p99.

Last line: `licences=N sign_per_s=X verify_per_s=Y verify_page_median_ms=Z`.

    python benchmarks/licences.py --licences 1000000
"""

import argparse
import os
import random
import re
import statistics
import subprocess
import time
from datetime import date, timedelta
from multiprocessing import Pool

from _setup import percentile, setup

BATCH = 20_000
ISSUERS = 20
TYPES = [("bench_yyzz", "营业执照", "legal_person", None), ("bench_spjy", "食品经营许可证", "legal_person", 5),
         ("bench_sfz", "居民身份证", "person", 10), ("bench_jhz", "结婚证", "person", None),
         ("bench_jsz", "机动车驾驶证", "person", 6)]
_worker_seals = {}


def _sign_chunk(args):
    """In a worker: sign each row's canonical bytes with its issuer's seal (seal rows loaded once)."""
    from bianmin.licences import seals
    from bianmin.licences.models import Seal

    seal_ids, payloads = args
    for pk in set(seal_ids) - set(_worker_seals):
        _worker_seals[pk] = Seal.objects.get(pk=pk)
    return [seals.sign(_worker_seals[pk], data) for pk, data in zip(seal_ids, payloads)]


def _write(connection, pool, columns, rows, seal_ids, signing, now) -> None:
    import json

    from bianmin.licences import services

    signatures = [s for part in signing.get() for s in part]
    # the status signature covers the metadata's signature: signed second, in the pool too
    for lic, sig in zip(rows, signatures):
        lic.signature = sig
    payloads = [services.status_bytes(lic) for lic in rows]
    step = max(1, len(rows) // (pool._processes * 4))
    status_signatures = [s for part in pool.map(_sign_chunk, [(seal_ids[k:k + step], payloads[k:k + step])
                                                              for k in range(0, len(rows), step)]) for s in part]
    with connection.cursor() as cur:
        with cur.cursor.copy(f"COPY licences_licence ({', '.join(columns)}) FROM STDIN") as copy:
            for lic, sid, sig, status_sig in zip(rows, seal_ids, signatures, status_signatures):
                copy.write_row([
                    lic.identifier, lic.licence_type.pk, lic.name, lic.number, 1, lic.holder_name,
                    lic.holder_id_type, lic.holder_id_number, lic.issuer.pk, lic.issuer_name, lic.issuer_code,
                    lic.issued_on, lic.valid_from, lic.valid_until, lic.region_code, lic.status,
                    json.dumps(lic.surface, ensure_ascii=False), "", sid, sig, "", False, now, sid, status_sig,
                ])


def seed(n: int, workers: int) -> None:
    from django.db import connection

    from bianmin.core.identities import resident_id_with_check, uscc_with_check
    from bianmin.licences import identifiers, seals, services
    from bianmin.licences.models import Licence, LicenceType
    from bianmin.org.models import Department, Level, Region

    have = Licence.objects.filter(number__startswith="BENCH").count()
    if have >= n:
        print(f"licences already seeded ({have})")
        return
    started = time.perf_counter()
    city, _ = Region.objects.get_or_create(code="440800", defaults={"name": "湛江市", "level": Level.CITY})
    depts = [Department.objects.get_or_create(uscc=uscc_with_check(f"11440800LC{i:07d}"),
                                              defaults={"name": f"基准颁证部门{i}", "region": city, "level": Level.CITY})[0]
             for i in range(ISSUERS)]
    types = [LicenceType.objects.get_or_create(code=code, defaults={
        "name": name, "type_code": f"BENCH{k:03d}", "holder_kind": kind, "validity_years": years})[0]
        for k, (code, name, kind, years) in enumerate(TYPES)]
    dept_seals = {d.pk: seals.active_seal(d) for d in depts}
    rng = random.Random(11)
    today = date.today()
    columns = ["identifier", "licence_type_id", "name", "number", "version", "holder_name", "holder_id_type",
               "holder_id_number", "issuer_id", "issuer_name", "issuer_code", "issued_on", "valid_from", "valid_until",
               "region_code", "status", "surface", "case_number", "seal_id", "signature", "revoke_reason", "imported",
               "created_at", "status_seal_id", "status_signature"]
    from django.utils import timezone

    now = timezone.now()
    from django.db import connections

    connections.close_all()  # forked workers must not inherit (and share) an open connection
    with Pool(workers) as pool:
        done = have
        pending = None
        while done < n:
            rows, payloads, seal_ids = [], [], []
            for i in range(done, min(n, done + BATCH)):
                dept = depts[i % ISSUERS]
                ltype = types[rng.randrange(len(types))]
                person = ltype.holder_kind == "person"
                holder_id = (resident_id_with_check(f"440802{date(1960, 1, 1) + timedelta(days=i % 15000):%Y%m%d}{(i // 15000) % 1000:03d}") if person
                             else uscc_with_check(f"914408{i % 100:02d}MA{i:08d}"[:17]))
                issued = today - timedelta(days=rng.randrange(0, 3650))
                lic = Licence(
                    identifier=identifiers.make_identifier(ltype.type_code, dept.uscc, i // ISSUERS + 1, 1),
                    licence_type=ltype, name=ltype.name, number=f"BENCH{i:09d}", version=1,
                    holder_name=f"持证人{i}", holder_id_type="resident_id" if person else "uscc", holder_id_number=holder_id,
                    issuer=dept, issuer_name=dept.name, issuer_code=dept.uscc, issued_on=issued, valid_from=issued,
                    valid_until=services.default_valid_until(ltype, issued), region_code="440800",
                    surface={"持证主体": f"持证人{i}", "住所": f"湛江市赤坎区中山{i % 300}路{i % 97}号"}, case_number="",
                    seal=dept_seals[dept.pk],
                )
                lic.status = "expired" if lic.valid_until and lic.valid_until < today else "valid"
                rows.append(lic)
                payloads.append(services.canonical_bytes(lic))
                seal_ids.append(dept_seals[dept.pk].pk)
            step = max(1, len(rows) // (workers * 4))
            chunks = [(seal_ids[k:k + step], payloads[k:k + step]) for k in range(0, len(rows), step)]
            # sign this batch in the workers while the previous one is written and the next one built
            signing = pool.map_async(_sign_chunk, chunks)
            if pending is not None:
                _write(connection, pool, columns, *pending, now)
            pending = (rows, seal_ids, signing)
            done += len(rows)
            print(f"  {done} licences ({time.perf_counter() - started:.0f} s)", flush=True)
        if pending is not None:
            _write(connection, pool, columns, *pending, now)
    with connection.cursor() as cur:
        for d in depts:  # the serials used above, so that issuing goes on after them
            used = Licence.objects.filter(issuer=d).count()
            cur.execute("INSERT INTO core_sequence (name, value) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET value = "
                        "GREATEST(core_sequence.value, EXCLUDED.value)", [f"licence-serial:{d.uscc}", used])
        cur.execute("ANALYZE licences_licence")
    print(f"seeded {n - have} licences in {time.perf_counter() - started:.0f} s")


def rate(fn, seconds: float) -> float:
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - t0)


def openssl_sm2() -> str:
    try:
        out = subprocess.run(["openssl", "speed", "-seconds", "3", "sm2"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"openssl_sm2=unavailable ({exc})"
    m = re.search(r"SM2 \(CurveSM2\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out.stdout)
    if not m:
        return "openssl_sm2=unavailable (this openssl has no SM2)"
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    return f"openssl_sm2_sign_per_s={float(m[1]):.0f} openssl_sm2_verify_per_s={float(m[2]):.0f} ({version})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--licences", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="processes for signing while seeding")
    parser.add_argument("--seconds", type=float, default=5.0, help="per signing/verifying measurement")
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_licences")
    setup()
    from django.db import connection
    from django.test import Client
    from gmssl import sm2

    from bianmin.licences import seals, services
    from bianmin.licences.models import Licence

    seed(args.licences, args.workers)
    n = Licence.objects.count()

    # one core: our wrapper, then gmssl as it comes, on a typical licence's canonical bytes
    sample = Licence.objects.select_related("licence_type", "seal").filter(number__startswith="BENCH").order_by("id").first()
    data = services.canonical_bytes(sample)
    seal = sample.seal
    signature = seals.sign(seal, data)
    sign_rate = rate(lambda: seals.sign(seal, data), args.seconds)
    verify_rate = rate(lambda: seals.verify(seal, data, signature), args.seconds)
    plain = sm2.CryptSM2(private_key="%064x" % seals._private_key(seal), public_key="")
    plain.public_key = seal.public_key
    gmssl_sign = rate(lambda: plain.sign_with_sm3(data, seals.nonce()), args.seconds)
    gmssl_verify = rate(lambda: plain.verify_with_sm3(signature, data), args.seconds)
    print(f"payload_bytes={len(data)} ours_sign_per_s={sign_rate:.0f} ours_verify_per_s={verify_rate:.0f} "
          f"gmssl_sign_per_s={gmssl_sign:.1f} gmssl_verify_per_s={gmssl_verify:.1f} "
          f"(gmssl 3.2.2 sign_with_sm3 / verify_with_sm3, pure Python)")
    print(openssl_sm2())

    # the page: random licences of the N, by identifier, through the whole Django stack
    rng = random.Random(3)
    max_id = Licence.objects.order_by("-id").values_list("id", flat=True).first()
    idents = []
    while len(idents) < args.requests:
        ident = Licence.objects.filter(id__gte=rng.randrange(1, max_id + 1)).order_by("id").values_list("identifier", flat=True).first()
        if ident:
            idents.append(ident)
    client = Client()
    for s in {lic.seal_id: lic for lic in Licence.objects.filter(identifier__in=idents).select_related("seal")}.values():
        client.get(f"/licences/verify/{s.identifier}/")  # warm: each seal's public-key table, once per process

    def timed(url, **params):
        t0 = time.perf_counter()
        r = client.get(url, params)
        assert r.status_code == 200, (url, r.status_code)
        return (time.perf_counter() - t0) * 1000, r

    page, api = [], []
    genuine = 0
    for ident in idents:
        ms, r = timed(f"/licences/verify/{ident}/")
        page.append(ms)
        genuine += "真实有效" in r.content.decode() or "有效期届满" in r.content.decode()
        ms, r = timed("/api/v1/licences/verify", identifier=ident)
        api.append(ms)
    assert genuine == len(idents), f"only {genuine} of {len(idents)} verified as genuine"
    print(f"database={connection.vendor} requests={len(idents)} verify_page_p99_ms={percentile(page, 99):.1f} "
          f"verify_api_median_ms={statistics.median(api):.1f} verify_api_p99_ms={percentile(api, 99):.1f}")
    print(f"licences={n} sign_per_s={sign_rate:.0f} verify_per_s={verify_rate:.0f} "
          f"verify_page_median_ms={statistics.median(page):.1f}")


if __name__ == "__main__":
    main()

"""Submit-case throughput through the API, served the production way (gunicorn, several workers).

Seeds a published online item and C applicants with API tokens into the database DATABASE_URL
names, starts gunicorn on 127.0.0.1 with W workers, and lets 16 concurrent clients POST
/api/v1/cases for D seconds, each request with its own Idempotency-Key; a tenth of the requests
are retried with the same key (as a client does after a time-out) and must not create a second
case. Then it inserts the same number of rows with plain SQL in one transaction per row, for
reference. The line before the last gives the machine's CPU while the clients ran (busy, idle and
stolen cores; CPU milliseconds per case, all processes). Last line:
`cases_per_s=X errors=E duplicates=D raw_inserts_per_s=R ratio=X/R`.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/9 \
        python benchmarks/case_submit.py [--workers 5] [--seconds 20]

`--profile F` samples the workers with py-spy (`pip install py-spy`) into F, for reading where
their time goes.
"""

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

from _setup import ROOT, setup

PORT = 8765


def seed(clients: int):
    from django.contrib.auth.models import User

    from bianmin.cases import services
    from bianmin.cases.models import Applicant
    from bianmin.core import services as core_services
    from bianmin.catalog import services as catalog_services
    from bianmin.catalog.models import ServiceItem
    from bianmin.core.identities import resident_id_with_check, uscc_with_check
    from bianmin.org.models import Department, Level, Region

    city, _ = Region.objects.get_or_create(code="440800", defaults={"name": "湛江市", "level": Level.CITY})
    dept, _ = Department.objects.get_or_create(uscc=uscc_with_check("11440800MA0000099"),
                                               defaults={"name": "基准提交测试局", "region": city, "level": Level.CITY})
    item = ServiceItem.objects.filter(code="BENCH-SUBMIT-1").first() or catalog_services.save_item({
        "name": "基准网上申办事项", "basic_code": "BENCHSUBMIT", "code": "BENCH-SUBMIT-1", "kind": "public_service",
        "legal_basis": "-", "department": dept, "conditions": "-", "route": "申请、受理、决定", "statutory_days": 20,
        "promised_days": 5, "audience": "person", "level": "city", "online_level": 4, "status": "published",
        "materials": [{"name": "补充说明", "required": False}]})
    tokens = []
    for i in range(clients):
        user, _ = User.objects.get_or_create(username=f"bench_submit_{i}")
        id_number = resident_id_with_check(f"44080219800101{i:03d}")
        # a phone on file: the submission's contact when the request names none
        applicant = Applicant.objects.filter(id_number=id_number).first() or services.register_applicant(
            kind="person", name=f"提交者{i}", id_number=id_number, phone=f"138{i:08d}", user=user)
        assert applicant.user_id == user.pk
        tokens.append(core_services.issue_token(user, "benchmark"))
    return item, tokens


def client_loop(token, item_code, deadline, stats, lock):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    rng = random.Random(token)
    while time.perf_counter() < deadline:
        key = uuid.uuid4().hex
        # the contact in form_data's contact fields: read by this release's service and the earlier one alike
        body = json.dumps({"item_code": item_code, "form_data": {"说明": "基准测试", "contact_name": "提交者", "contact_phone": "13800000000"},
                           "materials": {}})
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key, "Content-Type": "application/json"}
        for attempt in range(2 if rng.random() < 0.1 else 1):  # a tenth are retried with the same key
            try:
                conn.request("POST", "/api/v1/cases", body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                ok = r.status in (200, 201)
            except Exception as exc:  # connection reset etc.
                ok, data = False, str(exc).encode()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            with lock:
                if ok:
                    stats["ok"] += 1
                    stats["keys"].setdefault(key, set()).add(json.loads(data)["number"])
                else:
                    stats["errors"] += 1
                    stats["last_error"] = data[:200]


def cpu_times(before=None, elapsed=None):
    """The machine's CPU while the clients ran, in cores (Linux /proc/stat): busy (user + system + irq),
    idle (waiting: the load did not fill the machine) and stolen by the hypervisor."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
    except OSError:
        return None
    if before is None:
        return ticks
    d = [b - a for a, b in zip(before, ticks)]
    hz = os.sysconf("SC_CLK_TCK") * elapsed
    return {"busy": (d[0] + d[1] + d[2] + d[5] + d[6]) / hz, "idle": (d[3] + d[4]) / hz, "steal": d[7] / hz}


def raw_inserts(n, item, applicant_id):
    """The floor: the same case rows written by plain SQL, one transaction each, like one API call."""
    from django.db import connection, transaction

    from bianmin.cases.models import Case

    table = Case._meta.db_table
    started = time.perf_counter()
    with connection.cursor() as cur:
        for i in range(n):
            with transaction.atomic():
                cur.execute(
                    f"INSERT INTO {table} (number, item_id, item_version, department_id, applicant_id, channel, status, form_data, "
                    "commitment, created_at, submitted_at, extension_days, stopped_days, resume_status, supplement_requests, "
                    "decision_text, rejection_reason, visit_count) VALUES (%s, %s, 1, %s, %s, 'online', 'submitted', '{}', false, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0, 0, '', 0, '', '', 0)",
                    [f"RAW-{uuid.uuid4().hex[:20]}", item.pk, item.department_id, applicant_id])
    elapsed = time.perf_counter() - started
    Case.objects.filter(number__startswith="RAW-").delete()
    return n / elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--server", default="", help="more gunicorn arguments, e.g. \"-k gthread --threads 2\"")
    parser.add_argument("--profile", default="", help="sample the workers' Python (holding the GIL) with py-spy into this file")
    args = parser.parse_args()
    setup()
    from bianmin.cases.models import Applicant, Case

    item, tokens = seed(args.clients)
    before = Case.objects.filter(item=item).count()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bianmin.settings", SECRET_KEY="benchmark-only-secret-key", DEBUG="0",
               ALLOWED_HOSTS="127.0.0.1", PYTHONPATH=str(ROOT / "src"))
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "bianmin.wsgi", "-w", str(args.workers), "-b", f"127.0.0.1:{PORT}",
                               "--log-level", "warning", *args.server.split()], env=env, cwd=str(ROOT))
    try:
        for _ in range(100):  # wait for the server
            try:
                c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
                c.request("GET", "/api/v1/items?page_size=1")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        time.sleep(3)  # the other workers finish booting (each loads the URLs, schemas and jieba's dictionary)
        spy = subprocess.Popen(["py-spy", "record", "--subprocesses", "-r", "97", "--nonblocking", "--gil", "-f", "raw", "-o", args.profile, "-p", str(server.pid), "-d", str(int(args.seconds))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if args.profile else None
        stats, lock = {"ok": 0, "errors": 0, "keys": {}}, threading.Lock()
        deadline = time.perf_counter() + args.seconds
        started = time.perf_counter()
        cpu_before = cpu_times()
        threads = [threading.Thread(target=client_loop, args=(t, item.code, deadline, stats, lock)) for t in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        cpu = cpu_times(cpu_before, elapsed)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    created = Case.objects.filter(item=item).count() - before
    duplicates = sum(len(numbers) - 1 for numbers in stats["keys"].values()) + max(0, created - len(stats["keys"]))
    rate = len(stats["keys"]) / elapsed
    raw = raw_inserts(max(500, int(rate * 3)), item, Applicant.objects.filter(user__username="bench_submit_0").values_list("pk", flat=True)[0])
    if stats["errors"]:
        print("last error:", stats.get("last_error"))
    print(f"requests_ok={stats['ok']} cases_created={created} seconds={elapsed:.1f} workers={args.workers} clients={args.clients}"
          + (f" cpu_busy_cores={cpu['busy']:.2f} cpu_idle_cores={cpu['idle']:.2f} cpu_steal_cores={cpu['steal']:.2f}"
             f" cpu_ms_per_case={1000 * cpu['busy'] / max(rate, 1):.1f}" if cpu else ""))
    print(f"cases_per_s={rate:.0f} errors={stats['errors']} duplicates={duplicates} raw_inserts_per_s={raw:.0f} ratio={rate / raw:.2f}")


if __name__ == "__main__":
    main()

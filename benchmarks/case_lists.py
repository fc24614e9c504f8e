"""Case lists at scale: a department's task list and an applicant's own cases.

Seeds N cases (default 1,000,000) into the database DATABASE_URL names — 40 departments, 200,000
applicants, a realistic share still open (8%) — then times, through the API in process (routing,
auth, selectors, serialisation), a reviewer's task list (GET /api/v1/staff/tasks) and an
applicant's case list (GET /api/v1/cases). Last line:
`cases=N task_list_median_ms=X my_cases_median_ms=Y`.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench python benchmarks/case_lists.py --cases 1000000
"""

import argparse
import random
import statistics
import time
from datetime import date, timedelta

from _setup import percentile, setup

BATCH = 20_000


def seed(n: int) -> None:
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from bianmin.cases.models import Applicant, Case, ReviewTask
    from bianmin.catalog.models import ServiceItem
    from bianmin.core.identities import resident_id_with_check, uscc_with_check
    from bianmin.org.models import Department, Level, Region, Role, Staff

    if Case.objects.filter(number__startswith="BENCH").count() >= n:
        print("cases already seeded")
        return
    started = time.perf_counter()
    city, _ = Region.objects.get_or_create(code="440800", defaults={"name": "湛江市", "level": Level.CITY})
    depts = [Department.objects.get_or_create(uscc=uscc_with_check(f"11440800CL{i:07d}"),
                                              defaults={"name": f"基准测试部门{i}", "region": city, "level": Level.CITY})[0]
             for i in range(40)]
    items = []
    for d in depts:
        for k in range(5):
            code = f"BENCHCASE-{d.pk}-{k}"
            item = ServiceItem.objects.filter(code=code).first() or ServiceItem.objects.create(
                name=f"基准事项{d.pk}-{k}", basic_code="BENCHCASE", code=code, kind="licensing", legal_basis="-",
                department=d, conditions="-", route="-", statutory_days=20, promised_days=5, region=city,
                level=Level.CITY, audience="both", status="published")
            items.append(item)
    applicants = n // 5
    existing = Applicant.objects.filter(id_number__startswith="4408").count()
    rows = [Applicant(kind="person", name=f"申请人{i}", id_number=resident_id_with_check(f"440802{19600101 + (i % 9000):08d}{i // 9000:03d}"))
            for i in range(existing, applicants)]
    for i in range(0, len(rows), BATCH):
        Applicant.objects.bulk_create(rows[i:i + BATCH], ignore_conflicts=True)
    applicant_ids = list(Applicant.objects.values_list("pk", flat=True)[:applicants])
    rng = random.Random(5)
    today = date.today()
    done = Case.objects.filter(number__startswith="BENCH").count()
    while done < n:
        batch = []
        for i in range(done, min(n, done + BATCH)):
            item = rng.choice(items)
            open_case = rng.random() < 0.08
            accepted = today - timedelta(days=rng.randrange(0, 30 if open_case else 365))
            batch.append(Case(number=f"BENCH-{i:09d}", item=item, item_version=1, department_id=item.department_id,
                              applicant_id=rng.choice(applicant_ids), status="in_review" if open_case else "delivered",
                              channel="online", accepted_on=accepted, promised_deadline=accepted + timedelta(days=7),
                              statutory_deadline=accepted + timedelta(days=28), decided_on=None if open_case else accepted + timedelta(days=3)))
        with transaction.atomic():
            created = Case.objects.bulk_create(batch)
            ReviewTask.objects.bulk_create([ReviewTask(case=c, stage=1, name="审查", department_id=c.department_id, role="reviewer", due=c.promised_deadline)
                                            for c in created if c.status == "in_review"])
        done += len(batch)
        print(f"  {done} cases …", flush=True)
    user, _ = User.objects.get_or_create(username="bench_reviewer")
    Staff.objects.get_or_create(user=user, defaults={"name": "基准审查员", "department": depts[0], "role": Role.REVIEWER})
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    print(f"seeded {n} cases in {time.perf_counter() - started:.0f} s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from bianmin.cases.models import Applicant, Case

    seed(args.cases)
    reviewer = Client()
    reviewer.force_login(User.objects.get(username="bench_reviewer"))
    rng = random.Random(9)
    busy = list(Case.objects.filter(number__startswith="BENCH").values_list("applicant_id", flat=True)[:2000])

    def time_get(client, url):
        t0 = time.perf_counter()
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.content[:300])
        return (time.perf_counter() - t0) * 1000

    tasks = [time_get(reviewer, "/api/v1/staff/tasks") for _ in range(args.requests)]
    mine = []
    for _ in range(args.requests):
        applicant = Applicant.objects.get(pk=rng.choice(busy))
        if applicant.user_id is None:
            applicant.user = User.objects.create(username=f"bench_{applicant.pk}")
            applicant.save(update_fields=["user"])
        c = Client()
        c.force_login(applicant.user)
        mine.append(time_get(c, "/api/v1/cases"))
    n = Case.objects.count()
    print(f"database={connection.vendor} requests={args.requests} task_list_p99_ms={percentile(tasks, 99):.1f} "
          f"my_cases_p99_ms={percentile(mine, 99):.1f}")
    print(f"cases={n} task_list_median_ms={statistics.median(tasks):.1f} my_cases_median_ms={statistics.median(mine):.1f}")


if __name__ == "__main__":
    main()

"""Supervision at scale: the whole city's KPI dashboard over N cases, and the deadline-alert job.

PostgreSQL only (database `bench_supervision` by default). Seeds in SQL with generate_series:
10 divisions, 40 departments, 200 items, 100,000 applicants, N cases over the last two years of
which the newest 100,000 are open (in review, deadlines spread around today, one review task each),
one clock stop in a hundred decided cases (below 200,000 cases, half of them are open). Then:
- refreshes the precomputed stats (first run: everything; then once more: the incremental run);
- times the dashboard page GET /console/supervision/?from=<24 months ago> for a supervisor through
  Django's test Client (routing, permission, KPI computation, SVG charts, template), median of runs;
- times H4's `bianmin.supervision.alerts.run_alerts()` over the 100,000 open cases (first run).
Last line: `cases=N dashboard_ms=X alert_job_s=Y`.

    .venv/bin/python benchmarks/supervision.py --cases 10000000
"""

import argparse
import os
import statistics
import time
from datetime import date, timedelta

os.environ.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_supervision")

from _setup import percentile, setup  # noqa: E402

CHUNK = 500_000
OPEN = 100_000  # open cases for the alert job; half the cases when N is below 200,000
DEPARTMENTS = 40
ITEMS_PER_DEPT = 5
APPLICANTS = 100_000


def _ensure_database() -> None:
    import psycopg

    url = os.environ["DATABASE_URL"]
    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def seed_org():
    from django.contrib.auth.models import User

    from bianmin.catalog.models import ServiceItem
    from bianmin.core.identities import uscc_with_check
    from bianmin.org.models import Department, Hall, Level, Region, Role, Staff

    city, _ = Region.objects.get_or_create(code="440800", defaults={"name": "湛江市", "level": Level.CITY})
    counties = [("440802", "赤坎区"), ("440803", "霞山区"), ("440804", "坡头区"), ("440811", "麻章区"), ("440823", "遂溪县"),
                ("440825", "徐闻县"), ("440881", "廉江市"), ("440882", "雷州市"), ("440883", "吴川市")]
    regions = [city]
    halls = [Hall.objects.get_or_create(name="湛江市政务服务中心", defaults={"region": city, "level": Level.CITY})[0]]
    for code, name in counties:
        county, _ = Region.objects.get_or_create(code=code, defaults={"name": name, "level": Level.COUNTY, "parent": city})
        town, _ = Region.objects.get_or_create(code=code + "001", defaults={"name": f"{name}第一街道", "level": Level.TOWN, "parent": county})
        regions.append(county)
        halls.append(Hall.objects.get_or_create(name=f"{name}政务服务中心", defaults={"region": county, "level": Level.COUNTY})[0])
        halls.append(Hall.objects.get_or_create(name=f"{name}第一街道便民服务中心", defaults={"region": town, "level": Level.TOWN})[0])
    depts = []
    for i in range(DEPARTMENTS):
        region = city if i < 13 else regions[1 + (i - 13) % 9]
        level = Level.CITY if region is city else Level.COUNTY
        d, _ = Department.objects.get_or_create(uscc=uscc_with_check(f"11440800RW{i:07d}"),
                                                defaults={"name": f"{region.name}基准部门{i}", "region": region, "level": level})
        depts.append(d)
        for role, head in (("reviewer", False), ("approver", True)):
            user, made = User.objects.get_or_create(username=f"sv_{role}_{i}")
            if made:
                Staff.objects.create(user=user, name=f"{role}{i}", department=d, role=role, is_head=head)
        for k in range(ITEMS_PER_DEPT):
            code = f"BENCHSV-{i}-{k}"
            if not ServiceItem.objects.filter(code=code).exists():
                immediate = k == 0
                ServiceItem.objects.create(
                    name=f"基准事项{i}-{k}", basic_code="BENCHSV", code=code, kind="licensing", legal_basis="-", department=d,
                    conditions="-", route="-", statutory_days=20, promised_days=0 if immediate else 5 + k, region=region,
                    level=level, audience=["person", "both", "legal_person"][k % 3], is_immediate=immediate,
                    online_level=(i + k) % 5, nearby_levels="city,county,town" if k % 2 else "city,county",
                    max_visits=k % 3, status="published")
    user, made = User.objects.get_or_create(username="sv_supervisor")
    if made:
        Staff.objects.create(user=user, name="效能监督员", department=depts[0], role=Role.SUPERVISOR)
    return depts, halls


def _saved_indexes() -> str:
    """Where the dropped index definitions wait (one file per database)."""
    from django.db import connection

    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "var", f"{connection.settings_dict['NAME']}_case_indexes.json")


def _drop_indexes() -> None:
    """Loading millions of rows into a table with a dozen indexes is several times slower than
    building the indexes afterwards: drop the non-unique ones (their definitions saved first, so an
    interrupted run restores them next time) and skip the foreign-key triggers while loading."""
    import json

    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases_case' AND indexdef NOT LIKE '%%UNIQUE%%'")
        defs = cur.fetchall()
        if not os.path.exists(_saved_indexes()):
            with open(_saved_indexes(), "w") as fh:
                json.dump(defs, fh)
        for name, _ in defs:
            cur.execute(f'DROP INDEX IF EXISTS "{name}"')
        cur.execute("SET session_replication_role = replica")


def _restore_indexes() -> None:
    import json

    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = DEFAULT")
        if not os.path.exists(_saved_indexes()):
            return
        with open(_saved_indexes()) as fh:
            defs = json.load(fh)
        t0 = time.perf_counter()
        for name, definition in defs:
            cur.execute(definition.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
        print(f"  {len(defs)} indexes rebuilt in {time.perf_counter() - t0:.0f} s", flush=True)
    os.remove(_saved_indexes())


def seed_cases(n: int) -> None:
    from django.db import connection

    from bianmin.catalog.models import ServiceItem
    from bianmin.org.models import Hall

    _restore_indexes()  # after an interrupted load
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM cases_case WHERE number LIKE 'SV-%%'")
        done = cur.fetchone()[0]
        if done >= n:
            print(f"{done} cases already seeded")
            return
        if done == 0:
            cur.execute("""INSERT INTO cases_applicant (kind, name, id_number, phone, email, address, legal_representative, created_at)
                           SELECT 'person', '申请人' || g, 'SV' || lpad(g::text, 16, '0'), '', '', '', '', now()
                           FROM generate_series(1, %s) g ON CONFLICT (id_number) DO NOTHING""", [APPLICANTS])
        cur.execute("SELECT min(id), max(id) FROM cases_applicant WHERE id_number LIKE 'SV%%'")
        a_min, a_max = cur.fetchone()
    items = list(ServiceItem.objects.filter(code__startswith="BENCHSV-").order_by("id").values_list("id", "department_id", "promised_days"))
    halls = list(Hall.objects.order_by("id").values_list("id", flat=True))
    item_ids = "ARRAY[" + ",".join(str(i) for i, _, _ in items) + "]"
    dept_ids = "ARRAY[" + ",".join(str(d) for _, d, _ in items) + "]"
    days = "ARRAY[" + ",".join(str(p) for _, _, p in items) + "]"
    hall_ids = "ARRAY[" + ",".join(str(h) for h in halls) + "]"
    today = date.today()
    started = time.perf_counter()
    bulk = n - done > 1_000_000
    if bulk:
        _drop_indexes()
    # g numbers the cases in time order, as a real table fills: case g (of the closed ones) is decided
    # on day (g - 1) * 730 / closed of the last two years, accepted 0-11 days before; the last OPEN
    # cases are still in review. A different N needs a fresh database.
    while done < n:
        upto = min(n, done + CHUNK)
        with connection.cursor() as cur:
            cur.execute(f"""
                INSERT INTO cases_case (number, item_id, item_version, department_id, applicant_id, channel, hall_id, status,
                    form_data, commitment, created_at, submitted_at, accepted_at, accepted_on, decided_at, decided_on,
                    extension_days, stopped_days, resume_status, promised_deadline, statutory_deadline, supplement_requests,
                    approved, decision_text, rejection_reason, visit_count)
                SELECT 'SV-' || lpad(g::text, 9, '0'), ({item_ids})[1 + x.k], 1, ({dept_ids})[1 + x.k],
                       %(a_min)s + (g * 7919) %% (%(a_max)s - %(a_min)s + 1), x.channel,
                       CASE WHEN x.channel IN ('window', 'kiosk') THEN ({hall_ids})[(1 + (g / 7) %% {len(halls)})::int] END,
                       CASE WHEN x.open THEN 'in_review' ELSE 'delivered' END, '{{}}', false, now(), now(), now(), x.acc,
                       CASE WHEN x.open THEN NULL ELSE now() END,
                       CASE WHEN x.open THEN NULL ELSE x.acc + x.took END,
                       0, 0, '', x.acc + ({days})[1 + x.k] + 2, x.acc + 28, 0,
                       CASE WHEN x.open THEN NULL ELSE true END, '', '', CASE WHEN x.channel = 'online' THEN 0 ELSE g %% 3 END
                FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g
                CROSS JOIN LATERAL (SELECT ((g * 31) %% {len(items)})::int AS k,
                        (ARRAY['online','online','online','online','window','window','kiosk','mobile'])[(1 + (g * 13) %% 8)::int] AS channel,
                        g > %(n_closed)s AS open,
                        CASE WHEN g > %(n_closed)s THEN %(today)s::date - ((g * 17) %% 20)::int
                             ELSE %(today)s::date - 729 + ((g - 1) * 730 / %(n_closed)s)::int - ((g * 11) %% 12)::int END AS acc,
                        ((g * 11) %% 12)::int AS took) x
            """, {"lo": done + 1, "hi": upto, "a_min": a_min, "a_max": a_max, "today": today, "n_closed": n - min(OPEN, n // 2)})
        done = upto
        print(f"  {done} cases ({time.perf_counter() - started:.0f} s)", flush=True)
    _restore_indexes()
    with connection.cursor() as cur:
        cur.execute("""INSERT INTO cases_reviewtask (case_id, stage, name, department_id, role, state, due, opinion, created_at)
                       SELECT c.id, 1, '审查', c.department_id, 'reviewer', 'active', c.promised_deadline, '', now()
                       FROM cases_case c WHERE c.status = 'in_review' AND c.number LIKE 'SV-%%'
                       AND NOT EXISTS (SELECT 1 FROM cases_reviewtask t WHERE t.case_id = c.id)""")
        cur.execute("""INSERT INTO cases_clockstop (case_id, kind, reason, planned_days, started_on, ended_on, workdays)
                       SELECT c.id, 'site_inspection', '现场勘验', 3, c.accepted_on, c.decided_on, (c.id % 6)
                       FROM cases_case c WHERE c.decided_on IS NOT NULL AND c.id % 100 = 0 AND c.number LIKE 'SV-%%'
                       AND NOT EXISTS (SELECT 1 FROM cases_clockstop s WHERE s.case_id = c.id)""")
        cur.execute("ANALYZE")
    print(f"seeded {n} cases in {time.perf_counter() - started:.0f} s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed-only", action="store_true", help="seed and stop")
    args = parser.parse_args()
    _ensure_database()
    setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from bianmin.cases.models import Case
    from bianmin.supervision.kpis.services import refresh_stats

    settings.ALLOWED_HOSTS = ["*"]
    seed_org()
    seed_cases(args.cases)
    if args.seed_only:
        return

    t0 = time.perf_counter()
    full = refresh_stats(since=date(2000, 1, 1))
    refresh_full_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    incr = refresh_stats()
    refresh_incr_s = time.perf_counter() - t0
    print(f"refresh_stats full: {refresh_full_s:.1f} s ({full}); incremental: {refresh_incr_s:.2f} s ({incr})")

    client = Client()
    client.force_login(User.objects.get(username="sv_supervisor"))
    first = (date.today().replace(day=1) - timedelta(days=700)).replace(day=1)
    url = f"/console/supervision/?from={first:%Y-%m}&to={date.today():%Y-%m}"
    times = []
    for i in range(args.runs + 2):
        t0 = time.perf_counter()
        r = client.get(url)
        ms = (time.perf_counter() - t0) * 1000
        assert r.status_code == 200, (r.status_code, r.content[:500])
        if i >= 2:  # the first two warm caches (templates, the working-day calendar)
            times.append(ms)
    dashboard_ms = statistics.median(times)
    print(f"dashboard {url}: median {dashboard_ms:.1f} ms, p90 {percentile(times, 90):.1f} ms over {len(times)} runs")

    alert_s = "NA"
    try:
        from bianmin.supervision.alerts.services import run_alerts
    except ImportError:
        print("bianmin.supervision.alerts.run_alerts not available: alert job not timed")
    else:
        from bianmin.cases.models import Message
        from bianmin.supervision.models import Alert

        # a rerun starts from no alerts, so that the first run does the whole job again
        Alert.objects.all().delete()
        Message.objects.filter(kind__startswith="alert_").delete()
        open_cases = Case.objects.filter(status="in_review").count()
        t0 = time.perf_counter()
        out = run_alerts()
        alert_s = f"{time.perf_counter() - t0:.1f}"
        t0 = time.perf_counter()
        again = run_alerts()
        print(f"run_alerts over {open_cases} open cases: {alert_s} s {out}; second run {time.perf_counter() - t0:.1f} s {again}")
    n = Case.objects.count()
    print(f"database={connection.vendor}")
    print(f"cases={n} dashboard_ms={dashboard_ms:.1f} alert_job_s={alert_s}")


if __name__ == "__main__":
    main()

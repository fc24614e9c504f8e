"""Supervision KPIs (T1–T4, T7): computed from the platform's own data, never typed in.

`KPIS` is the registry: code, Chinese name, definition, unit, the plan's targets for end-2018 and
end-2020, source (catalog | cases) and which direction is better. Rates are percentages (0–100).

- Catalog KPIs count published items (status published) in the scope, as of a date: today's rows,
  or for a past date each item's last ItemVersion snapshot before the end of that day (items with
  no version then did not exist yet; the department is the item's current one).
- Case KPIs count cases decided (办结) in a period, from `stats.case_rows` (precomputed per month
  plus today's live). Overdue cases are those open now; long suspensions are those ended in the
  period, or still running now, past their planned working days.

Scope: the whole city; a division (a Region and every region below it: items by their region,
cases by the region of the department that implements them); or one department.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, OuterRef, Q, Subquery

from bianmin.cases import clock
from bianmin.catalog import selectors as four_ways
from bianmin.cases.models import Case, Channel, ClockStop
from bianmin.catalog.models import Audience, ItemVersion, ServiceItem
from bianmin.core import workdays
from bianmin.core.errors import ValidationError
from bianmin.org.models import Department, Level, Region

from . import stats

SHANGHAI = workdays.SHANGHAI
ONLINE_CHANNELS = (Channel.ONLINE, Channel.MOBILE, Channel.KIOSK)  # applied without a clerk taking the papers
NEARBY_LEVELS = four_ways.NEARBY_LEVELS  # a case accepted at such a hall is 就近受理
PERSON_AUDIENCES = (Audience.PERSON, Audience.BOTH)
CITY_OWN = "本级"


@dataclass(frozen=True)
class Kpi:
    code: str
    name: str
    definition: str
    unit: str                      # "%", "工作日", "件"
    source: str                    # "catalog" | "cases"
    target_2018: float | None = None
    target_2020: float | None = None
    higher_is_better: bool = True


KPIS: dict[str, Kpi] = {k.code: k for k in [
    Kpi("immediate_rate", "即办率", "面向自然人的现场办理事项(可在实体大厅申办)中,即办件所占比例", "%", "catalog", 25.0, 50.0),
    Kpi("online_rate", "网上可办率", "已发布事项中,网办深度达到“网上申办”及以上的比例", "%", "catalog", 60.0, 100.0),
    Kpi("nearby_rate", "就近办率", "面向自然人的现场办理事项中,可在镇(街道)或村(社区)大厅申办的比例", "%", "catalog", 50.0, 100.0),
    Kpi("one_visit_rate", "最多跑一次率", "已发布事项中,到现场次数不超过 1 次的比例", "%", "catalog", 60.0, 100.0),
    Kpi("case_same_day_rate", "当场办结率", "期间办结的办件中,受理当日即办结的比例", "%", "cases"),
    Kpi("case_online_rate", "网上申办率", "期间办结的办件中,经网上、移动端或自助终端申请的比例", "%", "cases"),
    Kpi("case_nearby_rate", "就近受理率", "期间办结的办件中,在镇(街道)或村(社区)大厅受理的比例", "%", "cases"),
    Kpi("case_one_visit_rate", "办件最多跑一次率", "期间办结的办件中,申请人到现场不超过 1 次的比例", "%", "cases", 60.0, 100.0),
    Kpi("on_time_rate", "按时办结率", "期间办结的办件中,在承诺期限内办结的比例", "%", "cases"),
    Kpi("avg_decide_workdays", "平均办结用时", "期间办结的办件从受理到办结的平均工作日数(含暂停计时)", "工作日", "cases",
        higher_is_better=False),
    Kpi("overdue_count", "超期在办件", "当前审查中、计时未暂停且已过承诺期限的办件数", "件", "cases", higher_is_better=False),
    Kpi("long_suspension_count", "超时暂停", "期间结束或当前仍在进行、且超过计划工作日的补正或特别程序次数", "件", "cases",
        higher_is_better=False),
]}
CATALOG_KPIS = [c for c, k in KPIS.items() if k.source == "catalog"]
CASE_KPIS = [c for c, k in KPIS.items() if k.source == "cases"]


# ------------------------------------------------------------------------------------------- scope

@dataclass
class Scope:
    region: Region | None = None
    department: Department | None = None
    region_codes: set[str] | None = None     # the region and all below it; None: the whole city
    department_ids: list[int] | None = None  # departments whose cases count; None: all

    @property
    def label(self) -> str:
        if self.department is not None:
            return self.department.name
        return self.region.name if self.region is not None else "全市"


def _region_tree() -> tuple[dict[str, str | None], dict[str, Region]]:
    regions = {r.code: r for r in Region.objects.only("code", "name", "level", "parent_id")}
    return {c: r.parent_id for c, r in regions.items()}, regions


def _descendants(code: str, parents: dict[str, str | None]) -> set[str]:
    children = defaultdict(list)
    for c, p in parents.items():
        if p:
            children[p].append(c)
    out, todo = set(), [code]
    while todo:
        c = todo.pop()
        if c not in out:
            out.add(c)
            todo.extend(children[c])
    return out


def resolve_scope(region_code=None, department_id=None) -> Scope:
    """Validate the filters (a bad value is a ValidationError in Chinese, never a 500)."""
    scope = Scope()
    if region_code not in (None, ""):
        code = str(region_code).strip()
        if not (code.isascii() and code.isdigit()) or len(code) > 12:
            raise ValidationError("行政区划代码应为不超过 12 位的数字", code="invalid_region", field="region")
        parents, regions = _region_tree()
        if code not in regions:
            raise ValidationError("找不到该行政区划", code="region_not_found", field="region")
        scope.region = regions[code]
        scope.region_codes = _descendants(code, parents)
        scope.department_ids = list(Department.objects.filter(region_id__in=scope.region_codes).values_list("pk", flat=True))
    if department_id not in (None, ""):
        raw = str(department_id).strip()
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
            raise ValidationError("部门编号应为正整数", code="invalid_department", field="department")
        dept = Department.objects.filter(pk=int(raw)).select_related("region").first()
        if dept is None:
            raise ValidationError("找不到该部门", code="department_not_found", field="department")
        scope.department = dept
        if scope.department_ids is not None and dept.pk not in scope.department_ids:
            scope.department_ids = []  # a department outside the division: nothing to count
        else:
            scope.department_ids = [dept.pk]
    return scope


# ----------------------------------------------------------------------------------------- catalog

@dataclass
class ItemFacts:
    """Published items counted by everything a catalog KPI or breakdown needs."""
    region_id: str
    department_id: int
    level: str
    online_level: int
    online: bool          # 网上办 (catalog.selectors.online)
    person_onsite: bool   # 面向自然人的现场办理事项: audience person/both and applicable at some hall level
    immediate: bool
    nearby: bool          # applicable at a town or village hall
    one_visit: bool
    n: int = 1
    item_id: int | None = None  # set when read from the item's versions (one item each)


def _facts(region_id, department_id, level, audience, is_immediate, online_level, nearby_levels, max_visits, n=1,
           item_id=None) -> ItemFacts:
    levels = {x for x in (nearby_levels or "").split(",") if x}
    person_onsite = audience in PERSON_AUDIENCES and bool(levels)
    return ItemFacts(region_id, department_id, level, int(online_level), four_ways.online(online_level), person_onsite,
                     person_onsite and four_ways.immediate(is_immediate), person_onsite and four_ways.nearby(levels),
                     four_ways.one_visit(max_visits), n, item_id)


def _end_of_day(on: date) -> datetime:
    return datetime.combine(on + timedelta(days=1), time.min, tzinfo=SHANGHAI)


def catalog_facts(scope: Scope, on: date | None = None) -> list[ItemFacts]:
    """One grouped query over the items (today), or over their last versions before the end of `on`."""
    if on is None or on >= clock.today():
        qs = ServiceItem.objects.filter(status=ServiceItem.Status.PUBLISHED)
        if scope.region_codes is not None:
            qs = qs.filter(region_id__in=scope.region_codes)
        if scope.department is not None:
            qs = qs.filter(department_id=scope.department.pk)
        rows = (qs.values_list("region_id", "department_id", "level", "audience", "is_immediate", "online_level",
                               "nearby_levels", "max_visits").annotate(n=Count("id")).order_by())
        return [_facts(*r) for r in rows]
    cutoff = _end_of_day(on)
    last = ItemVersion.objects.filter(item_id=OuterRef("item_id"), changed_at__lt=cutoff).order_by("-version").values("version")[:1]
    versions = ItemVersion.objects.filter(changed_at__lt=cutoff, version=Subquery(last))
    if scope.department is not None:
        versions = versions.filter(item__department_id=scope.department.pk)
    out = []
    for item_id, dept_id, snap in versions.values_list("item_id", "item__department_id", "snapshot"):
        if snap.get("status") != ServiceItem.Status.PUBLISHED:
            continue
        if scope.region_codes is not None and snap.get("region") not in scope.region_codes:
            continue
        out.append(_facts(snap.get("region"), dept_id, snap.get("level"), snap.get("audience"), snap.get("is_immediate"),
                          snap.get("online_level") or 0, snap.get("nearby_levels"), snap.get("max_visits") or 0,
                          item_id=item_id))
    return out


def _pct(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 2) if den else None


def catalog_counts(facts) -> dict[str, tuple[int, int]]:
    """{kpi code: (numerator, denominator)}"""
    c = Counter()
    for f in facts:
        c["all"] += f.n
        c["onsite"] += f.n * f.person_onsite
        c["immediate"] += f.n * f.immediate
        c["nearby"] += f.n * f.nearby
        c["online"] += f.n * f.online
        c["one_visit"] += f.n * f.one_visit
    return {"immediate_rate": (c["immediate"], c["onsite"]), "online_rate": (c["online"], c["all"]),
            "nearby_rate": (c["nearby"], c["onsite"]), "one_visit_rate": (c["one_visit"], c["all"])}


def online_breakdown(facts) -> dict:
    """网上可办率 per administrative level, and the items per online level (0–4)."""
    per_level: dict[str, list[int]] = {}
    per_online = Counter()
    for f in facts:
        acc = per_level.setdefault(f.level, [0, 0])
        acc[0] += f.n * f.online
        acc[1] += f.n
        per_online[f.online_level] += f.n
    order = [lv for lv, _ in Level.choices]
    return {
        "levels": [{"level": lv, "label": Level(lv).label, "online": per_level[lv][0], "total": per_level[lv][1],
                    "rate": _pct(*per_level[lv])} for lv in order if lv in per_level],
        "online_levels": [{"online_level": k, "items": per_online.get(k, 0)} for k in range(5)],
    }


# ------------------------------------------------------------------------------------------- cases

def case_sums(rows, key=None) -> dict:
    """One pass over the case rows: {key(row): [decided, same_day, on_time, one_visit, workdays, online, nearby]}
    (key None: everything under None)."""
    out: dict = {}
    for r in rows:
        k = key(r) if key else None
        a = out.get(k)
        if a is None:
            a = out[k] = [0, 0, 0, 0, 0, 0, 0]
        n = r.decided
        a[0] += n
        a[1] += r.same_day
        a[2] += r.on_time
        a[3] += r.one_visit
        a[4] += r.workdays
        if r.channel in ONLINE_CHANNELS:
            a[5] += n
        if r.hall_level in NEARBY_LEVELS:
            a[6] += n
    return out


def _counts_of(a) -> dict[str, tuple[int, int]]:
    n, same_day, on_time, one_visit, days, online, nearby = a or (0,) * 7
    return {"case_same_day_rate": (same_day, n), "case_online_rate": (online, n), "case_nearby_rate": (nearby, n),
            "case_one_visit_rate": (one_visit, n), "on_time_rate": (on_time, n), "avg_decide_workdays": (days, n)}


def case_counts(rows) -> dict[str, tuple[int, int]]:
    """{kpi code: (numerator, denominator)} of the decided cases in `rows`."""
    return _counts_of(case_sums(rows).get(None))


def overdue_cases(scope: Scope, today: date | None = None):
    """Running cases overdue on `today` (cases.clock's 超期), as every other page counts them."""
    qs = Case.objects.filter(clock.overdue_q(today or clock.today()))
    if scope.department_ids is not None:
        qs = qs.filter(department_id__in=scope.department_ids)
    return qs


def long_suspensions(scope: Scope, start: date, end: date, today: date | None = None):
    """Clock stops longer than planned, as a queryset: ended in [start, end] after more working days
    than planned, or still running today past their plan."""
    today = today or clock.today()
    qs = ClockStop.objects.filter(planned_days__isnull=False)
    if scope.department_ids is not None:
        qs = qs.filter(case__department_id__in=scope.department_ids)
    ended = Q(ended_on__gte=start, ended_on__lte=end, workdays__gt=F("planned_days"))
    # Running stops are few: their working days so far are counted here, not in SQL.
    running = qs.filter(ended_on__isnull=True, started_on__lt=today).values_list("pk", "started_on", "planned_days")
    late = [pk for pk, s, p in running if workdays.workdays_between(s, today) > p]
    return qs.filter(ended | Q(pk__in=late))


# ------------------------------------------------------------------------------------------ period

@dataclass(frozen=True)
class Period:
    first_month: date
    last_month: date

    @property
    def start(self) -> date:
        return self.first_month

    @property
    def end(self) -> date:
        nxt = (self.last_month.replace(day=28) + timedelta(days=4)).replace(day=1)
        return nxt - timedelta(days=1)

    def months(self) -> list[date]:
        out, m = [], self.first_month
        while m <= self.last_month:
            out.append(m)
            m = (m.replace(day=28) + timedelta(days=4)).replace(day=1)
        return out

    @property
    def label(self) -> str:
        a, b = self.first_month, self.last_month
        return f"{a.year}年{a.month}月" + ("" if a == b else f"至{b.year}年{b.month}月")


MAX_MONTHS = 120


def parse_month(value: str, field_name: str) -> date:
    raw = (value or "").strip()
    try:
        if len(raw) != 7 or raw[4] != "-" or not raw.isascii():
            raise ValueError
        y, m = int(raw[:4]), int(raw[5:])
        if not 2000 <= y <= 2100:
            raise ValueError
        return date(y, m, 1)
    except ValueError:
        raise ValidationError("月份格式应为 YYYY-MM,例如 2026-01", code="invalid_month", field=field_name) from None


def parse_day(value, field_name: str = "on", *, today: date | None = None) -> date | None:
    """A day (YYYY-MM-DD) from 2000 to today for "as of" figures; empty: None (today)."""
    raw = (value or "").strip()
    if not raw:
        return None
    today = today or clock.today()
    try:
        if len(raw) != 10 or not raw.isascii():
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError("日期格式应为 YYYY-MM-DD,例如 2026-06-30", code="invalid_date", field=field_name) from None
    if not date(2000, 1, 1) <= day <= today:
        raise ValidationError("统计日期应在 2000-01-01 至今天之间", code="invalid_date", field=field_name)
    return None if day == today else day


def parse_period(from_value=None, to_value=None, *, today: date | None = None) -> Period:
    """From/to month (YYYY-MM). Default: January of this year to this month."""
    today = today or clock.today()
    last = parse_month(to_value, "to") if to_value else today.replace(day=1)
    first = parse_month(from_value, "from") if from_value else last.replace(month=1)
    if first > last:
        raise ValidationError("起始月份不能晚于结束月份", code="invalid_period", field="from")
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        raise ValidationError(f"统计期间不能超过 {MAX_MONTHS} 个月", code="invalid_period", field="from")
    return Period(first, last)


# ---------------------------------------------------------------------------------------- results

def _result(code: str, num: int | None, den: int | None, value: float | None) -> dict:
    k = KPIS[code]
    out = {"code": code, "name": k.name, "definition": k.definition, "unit": k.unit, "source": k.source,
           "higher_is_better": k.higher_is_better, "value": value, "numerator": num, "denominator": den,
           "target_2018": k.target_2018, "target_2020": k.target_2020}
    for year in ("2018", "2020"):
        target = out[f"target_{year}"]
        gap = None if target is None or value is None else round(value - target, 2)
        out[f"gap_{year}"] = gap
        out[f"reached_{year}"] = None if gap is None else (gap >= 0 if k.higher_is_better else gap <= 0)
    return out


def _rate_results(counts: dict) -> dict[str, dict]:
    out = {}
    for code, (num, den) in counts.items():
        if code == "avg_decide_workdays":
            out[code] = _result(code, num, den, round(num / den, 2) if den else None)
        else:
            out[code] = _result(code, num, den, _pct(num, den))
    return out


@dataclass
class Figures:
    scope: Scope
    period: Period
    on: date | None
    kpis: list[dict]
    catalog: list[ItemFacts] = field(default_factory=list)
    case_rows: list = field(default_factory=list)
    through: date | None = None


def figures(*, scope: Scope, period: Period, on: date | None = None, sources=("catalog", "cases"),
            today: date | None = None) -> Figures:
    """Every KPI of the scope: catalog ones as of `on` (None: now), case ones over the period."""
    today = today or clock.today()
    results: dict[str, dict] = {}
    facts, rows, through = [], [], None
    if "catalog" in sources:
        facts = catalog_facts(scope, on)
        results.update(_rate_results(catalog_counts(facts)))
    if "cases" in sources:
        rows, through = stats.case_rows(period.start, period.end, scope.department_ids, today=today)
        results.update(_rate_results(case_counts(rows)))
        overdue = overdue_cases(scope, today).count()
        results["overdue_count"] = _result("overdue_count", None, None, float(overdue))
        long = long_suspensions(scope, period.start, min(period.end, today), today).count()
        results["long_suspension_count"] = _result("long_suspension_count", None, None, float(long))
    kpis = [results[c] for c in KPIS if c in results]
    return Figures(scope, period, on, kpis, facts, rows, through)


def compute_all(*, on: date | None = None, region_code=None, department_id=None, start: date | None = None,
                end: date | None = None) -> list[dict]:
    """Every KPI with its targets and gaps: catalog KPIs as of `on` (None: now); case KPIs over the
    months from `start` to `end` (default: January of `on`'s year to `on`'s month)."""
    ref = on or clock.today()
    period = Period(stats.month_of(start or ref.replace(month=1, day=1)), stats.month_of(end or ref))
    if period.first_month > period.last_month:
        raise ValidationError("起始月份不能晚于结束月份", code="invalid_period", field="start")
    return figures(scope=resolve_scope(region_code, department_id), period=period, on=on).kpis


def value(code: str, *, on: date | None = None, region_code=None, department_id=None) -> float | None:
    """One KPI's value (percent for rates) for the scope: catalog KPIs as of `on`; case KPIs over the
    months from January of `on`'s year to `on`'s month (the whole month: periods are months), the
    overdue count as of now. None when nothing is counted (no items, no decided cases)."""
    if code not in KPIS:
        raise ValidationError("未知的指标代码", code="unknown_kpi", field="code")
    ref = on or clock.today()
    period = Period(ref.replace(month=1, day=1), ref.replace(day=1))
    fig = figures(scope=resolve_scope(region_code, department_id), period=period, on=on, sources=(KPIS[code].source,))
    return next(k["value"] for k in fig.kpis if k["code"] == code)


# ------------------------------------------------------------------------------------- breakdowns

def county_of(region_code: str, parents: dict[str, str | None], regions: dict[str, Region]) -> str:
    """The county-level division a region lies in; the city's own code for city-level regions."""
    code = region_code
    while code is not None:
        r = regions.get(code)
        if r is None:
            return region_code
        if r.level in (Level.COUNTY, Level.CITY):
            return code
        code = parents.get(code)
    return region_code


def trend(fig: Figures) -> list[dict]:
    """Per month of the period: decided cases and the case rates."""
    by_month = case_sums(fig.case_rows, key=lambda r: r.month)
    out = []
    for m in fig.period.months():
        n, same_day, on_time, one_visit, _, online, _ = by_month.get(m) or (0,) * 7
        out.append({"month": m, "label": f"{m.year}-{m.month:02d}", "decided": n, "on_time_rate": _pct(on_time, n),
                    "same_day_rate": _pct(same_day, n), "one_visit_rate": _pct(one_visit, n), "online_rate": _pct(online, n)})
    return out


def _compare_row(key, label, sums, facts) -> dict:
    cc = _counts_of(sums)
    cat = catalog_counts(facts)
    return {"key": key, "label": label, "decided": cc["on_time_rate"][1], "on_time_rate": _pct(*cc["on_time_rate"]),
            "case_online_rate": _pct(*cc["case_online_rate"]), "case_one_visit_rate": _pct(*cc["case_one_visit_rate"]),
            "items": cat["online_rate"][1], "online_rate": _pct(*cat["online_rate"]), "one_visit_rate": _pct(*cat["one_visit_rate"]),
            "immediate_rate": _pct(*cat["immediate_rate"]), "nearby_rate": _pct(*cat["nearby_rate"])}


def by_division(fig: Figures) -> list[dict]:
    """Case and catalog rates per county-level division (and the city's own departments)."""
    parents, regions = _region_tree()
    counties: dict[str, str] = {}

    def county(code):
        if code not in counties:
            counties[code] = county_of(code, parents, regions)
        return counties[code]

    dept_county = {pk: county(region) for pk, region in Department.objects.values_list("pk", "region_id")}
    case_groups = case_sums(fig.case_rows, key=lambda r: dept_county.get(r.department_id, ""))
    fact_groups = defaultdict(list)
    for f in fig.catalog:
        fact_groups[county(f.region_id)].append(f)
    out = []
    for code in sorted(set(case_groups) | set(fact_groups)):
        r = regions.get(code)
        label = (f"{r.name}{CITY_OWN}" if r.level == Level.CITY else r.name) if r else code
        out.append(_compare_row(code, label, case_groups.get(code), fact_groups[code]))
    return out


def by_department(fig: Figures) -> list[dict]:
    case_groups = case_sums(fig.case_rows, key=lambda r: r.department_id)
    fact_groups = defaultdict(list)
    for f in fig.catalog:
        fact_groups[f.department_id].append(f)
    ids = set(case_groups) | set(fact_groups)
    names = dict(Department.objects.filter(pk__in=ids).values_list("pk", "name"))
    return [_compare_row(pk, names.get(pk, str(pk)), case_groups.get(pk), fact_groups[pk])
            for pk in sorted(ids, key=lambda pk: (names.get(pk, ""), pk))]


# -------------------------------------------------------------------------------------- drill-down

# (in the denominator, meets the KPI) for one item's facts
CATALOG_TESTS = {
    "immediate_rate": lambda f: (f.person_onsite, f.immediate),
    "online_rate": lambda f: (True, f.online),
    "nearby_rate": lambda f: (f.person_onsite, f.nearby),
    "one_visit_rate": lambda f: (True, f.one_visit),
}


def items_behind(code: str, scope: Scope, *, met: bool | None = None, on: date | None = None):
    """The published items a catalog KPI counts: its denominator, or only those meeting (met=True)
    or missing (met=False) it. For a past day `on` the items are judged by their versions of that
    day (the rows show the items as they are now)."""
    if on is not None and on < clock.today():
        ids = []
        for f in catalog_facts(scope, on):
            counted, meets = CATALOG_TESTS[code](f)
            if counted and (met is None or meets == met):
                ids.append(f.item_id)
        return ServiceItem.objects.filter(pk__in=ids).select_related("department", "region").order_by("department_id", "id")
    qs = ServiceItem.objects.filter(status=ServiceItem.Status.PUBLISHED)
    if scope.region_codes is not None:
        qs = qs.filter(region_id__in=scope.region_codes)
    if scope.department is not None:
        qs = qs.filter(department_id=scope.department.pk)
    onsite = Q(audience__in=PERSON_AUDIENCES) & ~Q(nearby_levels="")
    den, num = {
        "immediate_rate": (onsite, four_ways.immediate_q()),
        "online_rate": (Q(), four_ways.online_q()),
        "nearby_rate": (onsite, four_ways.nearby_q()),
        "one_visit_rate": (Q(), four_ways.one_visit_q()),
    }[code]
    qs = qs.filter(den)
    if met is True:
        qs = qs.filter(num)
    elif met is False:
        qs = qs.exclude(num)
    return qs.select_related("department", "region").order_by("department_id", "id")


CASE_MET = {
    "case_same_day_rate": Q(decided_on=F("accepted_on")),
    "case_online_rate": Q(channel__in=ONLINE_CHANNELS),
    "case_nearby_rate": Q(hall__level__in=NEARBY_LEVELS),
    "case_one_visit_rate": Q(visit_count__lte=four_ways.ONE_VISIT_MAX),
    "on_time_rate": clock.finished_on_time_q(),
    "avg_decide_workdays": Q(),
}


def cases_behind(code: str, scope: Scope, period: Period, *, met: bool | None = None, today: date | None = None):
    """The cases a case KPI counts (decided in the period), or only those meeting or missing it;
    for overdue_count the open overdue cases; for long_suspension_count the cases of those stops."""
    today = today or clock.today()
    related = ("item", "department", "hall")
    if code == "overdue_count":  # the longest overdue first (index case_running_deadline)
        return overdue_cases(scope, today).select_related(*related).order_by("promised_deadline", "id")
    if code == "long_suspension_count":
        stops = long_suspensions(scope, period.start, min(period.end, today), today)
        qs = Case.objects.filter(pk__in=stops.values("case_id"))
    else:
        qs = Case.objects.filter(decided_on__gte=period.start, decided_on__lte=min(period.end, today))
        if scope.department_ids is not None:
            qs = qs.filter(department_id__in=scope.department_ids)
        cond = CASE_MET[code]
        if met is True and cond:
            qs = qs.filter(cond)
        elif met is False and cond:
            qs = qs.exclude(cond)
    return qs.select_related(*related).order_by("-decided_on", "-id")


def cases_behind_count(code: str, scope: Scope, period: Period, *, met: bool | None = None,
                       today: date | None = None) -> int | None:
    """How many cases `cases_behind` lists for a rate KPI, from the precomputed figures (a COUNT over
    millions of decided cases takes seconds); None for the KPIs counted otherwise."""
    if code not in CASE_MET:
        return None
    rows, _ = stats.case_rows(period.start, period.end, scope.department_ids, today=today)
    num, den = case_counts(rows)[code]
    if met is None or code == "avg_decide_workdays":
        return den
    return num if met else den - num

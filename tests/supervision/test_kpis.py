"""Supervision KPIs on a small hand-built catalog and set of cases, each value worked out by hand;
the precomputed CaseStat figures against the live computation.

The world (fixture `world`), today = Tue 2026-11-10:

Items (published unless said), market = 市市场监督管理局 (region 440800), civil = 赤坎区民政局 (440802):
  #  dept    audience      immediate  nearby_levels        online  visits   onsite* nearby  online  one-visit
  1  market  person        yes        city,county,town     3       0        yes     yes     yes     yes
  2  market  person        no         city                 2       2        yes     no      no      no
  3  market  both          yes        town,village         0       1        yes     yes     no      yes
  4  market  person        no         (none: online only)  4       0        no      -       yes     yes
  5  market  legal_person  no         city,county          4       0        no      -       yes     yes
  6  civil   person        no         county,village       1       2        yes     yes     no      no
  7  civil   both          no         county               3       1        yes     no      yes     yes
  8  civil   person        no         county               3       3        yes     no      yes     no
  9  market  person        yes        city                 4       0        (draft: never counted)
  *onsite = 面向自然人的现场办理事项 (audience person/both, applicable at some hall level)

Cases decided in Sep–Oct 2026 (A–D), one in August (E), three open (F, G, H):
  case dept    channel hall  accepted   decided    deadline   visits  same-day on-time one-visit workdays
  A    market  window  city  09-07 Mon  09-07      09-07      1       yes      yes     yes       0
  B    market  online  -     09-07 Mon  09-11 Fri  09-14      0       no       yes     yes       4 (8,9,10,11)
  C    market  kiosk   town  09-28 Mon  10-09 Fri  10-10      2       no       yes     no        4 (29,30, 10-8, 10-9)
  D    civil   window  town  10-12 Mon  10-20 Tue  10-16      3       no       no      no        6 (13–16, 19, 20)
  E    market  online  -     08-03      08-04      08-07      0       (outside the period)
  F    market  in review, deadline 11-02, clock running      -> overdue
  G    market  in review, deadline 11-20                     -> not overdue
  H    market  in 特别程序 since 11-02, deadline 11-02 (paused) -> not overdue
Clock stops: D site inspection planned 3, took 5 (ended 10-19): too long; B supplement planned 5, took 2:
fine; H expert review planned 3, running since Mon 11-02: (11-02, 11-10] has 6 working days > 3: too long.
"""

from datetime import date, datetime, timedelta, timezone

import pytest

from bianmin.cases import services
from bianmin.cases.models import Applicant, Case, CaseStatus, ClockStop
from bianmin.catalog import services as catalog_services
from bianmin.catalog.models import ItemVersion
from bianmin.core import workdays
from bianmin.core.errors import ValidationError
from bianmin.core.identities import resident_id_with_check
from bianmin.supervision.kpis import selectors as kpis
from bianmin.supervision.kpis import services as kpi_services
from bianmin.supervision.kpis import stats
from bianmin.supervision.models import CaseStat, StatRefresh
from tests.conftest import item_data

TODAY = date(2026, 11, 10)
SEP_OCT = kpis.Period(date(2026, 9, 1), date(2026, 10, 1))


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture
def world(departments, halls, make_item, monkeypatch):
    monkeypatch.setattr(workdays, "today", lambda: TODAY)
    market, civil = departments["market"], departments["chikan_civil"]
    spec = [
        (market, "person", True, "city,county,town", 3, 0),
        (market, "person", False, "city", 2, 2),
        (market, "both", True, "town,village", 0, 1),
        (market, "person", False, "", 4, 0),
        (market, "legal_person", False, "city,county", 4, 0),
        (civil, "person", False, "county,village", 1, 2),
        (civil, "both", False, "county", 3, 1),
        (civil, "person", False, "county", 3, 3),
    ]
    items = [make_item(dept, audience=aud, is_immediate=imm, promised_days=0 if imm else 5, nearby_levels=near,
                       online_level=online, max_visits=visits, level=dept.level)
             for dept, aud, imm, near, online, visits in spec]
    make_item(market, audience="person", is_immediate=True, promised_days=0, nearby_levels="city", status="draft")
    applicant = Applicant.objects.create(kind="person", name="王五", id_number=resident_id_with_check("44080219800101001"))

    def case(item, *, channel="online", hall=None, accepted=None, decided=None, deadline=None, visits=0, status=None, stopped_on=None):
        return Case.objects.create(
            number=f"T-{Case.objects.count() + 1:04d}", item=item, item_version=1, department_id=item.department_id,
            applicant=applicant, channel=channel, hall=hall, accepted_on=d(accepted), decided_on=d(decided) if decided else None,
            promised_deadline=d(deadline), statutory_deadline=d(deadline) + timedelta(days=20), visit_count=visits,
            status=status or (CaseStatus.DELIVERED if decided else CaseStatus.IN_REVIEW),
            stopped_on=d(stopped_on) if stopped_on else None)

    cases = {
        "A": case(items[0], channel="window", hall=halls["city"], accepted="2026-09-07", decided="2026-09-07", deadline="2026-09-07", visits=1),
        "B": case(items[1], accepted="2026-09-07", decided="2026-09-11", deadline="2026-09-14"),
        "C": case(items[2], channel="kiosk", hall=halls["town"], accepted="2026-09-28", decided="2026-10-09", deadline="2026-10-10", visits=2),
        "D": case(items[5], channel="window", hall=halls["town"], accepted="2026-10-12", decided="2026-10-20", deadline="2026-10-16", visits=3),
        "E": case(items[0], accepted="2026-08-03", decided="2026-08-04", deadline="2026-08-07"),
        "F": case(items[1], accepted="2026-10-26", deadline="2026-11-02"),
        "G": case(items[1], accepted="2026-11-09", deadline="2026-11-20"),
        "H": case(items[1], accepted="2026-10-26", deadline="2026-11-02", status=CaseStatus.SUSPENDED, stopped_on="2026-11-02"),
    }
    ClockStop.objects.create(case=cases["D"], kind="site_inspection", reason="现场勘验", planned_days=3,
                             started_on=d("2026-10-13"), ended_on=d("2026-10-19"), workdays=5)
    ClockStop.objects.create(case=cases["B"], kind="supplement", reason="补正", planned_days=5,
                             started_on=d("2026-09-08"), ended_on=d("2026-09-10"), workdays=2)
    ClockStop.objects.create(case=cases["H"], kind="expert_review", reason="专家评审", planned_days=3, started_on=d("2026-11-02"))
    return {"items": items, "cases": cases, "market": market, "civil": civil, "halls": halls, "case": case}


def by_code(results):
    return {k["code"]: k for k in results}


def test_registry_has_the_plans_targets():
    assert (kpis.KPIS["immediate_rate"].target_2018, kpis.KPIS["immediate_rate"].target_2020) == (25.0, 50.0)
    assert (kpis.KPIS["online_rate"].target_2018, kpis.KPIS["online_rate"].target_2020) == (60.0, 100.0)
    assert (kpis.KPIS["nearby_rate"].target_2018, kpis.KPIS["nearby_rate"].target_2020) == (50.0, 100.0)
    assert (kpis.KPIS["one_visit_rate"].target_2018, kpis.KPIS["one_visit_rate"].target_2020) == (60.0, 100.0)
    assert {k.source for k in kpis.KPIS.values()} == {"catalog", "cases"}
    assert kpis.KPIS["overdue_count"].higher_is_better is False


def test_catalog_kpis_for_the_city(world):
    r = by_code(kpis.compute_all())
    # 面向自然人的现场办理事项: items 1, 2, 3, 6, 7, 8 (six); immediate among them: 1 and 3.
    assert (r["immediate_rate"]["numerator"], r["immediate_rate"]["denominator"]) == (2, 6)
    assert r["immediate_rate"]["value"] == 33.33
    # nearby (town or village): 1, 3, 6 of the six.
    assert (r["nearby_rate"]["numerator"], r["nearby_rate"]["denominator"], r["nearby_rate"]["value"]) == (3, 6, 50.0)
    # online_level >= 3: 1, 4, 5, 7, 8 of 8 published (the draft is not counted).
    assert (r["online_rate"]["numerator"], r["online_rate"]["denominator"], r["online_rate"]["value"]) == (5, 8, 62.5)
    # max_visits <= 1: 1, 3, 4, 5, 7 of 8.
    assert r["one_visit_rate"]["value"] == 62.5
    # gaps in percentage points: 62.5 - 60 = +2.5 (reached), 62.5 - 100 = -37.5 (not yet)
    assert (r["online_rate"]["gap_2018"], r["online_rate"]["reached_2018"]) == (2.5, True)
    assert (r["online_rate"]["gap_2020"], r["online_rate"]["reached_2020"]) == (-37.5, False)
    assert (r["nearby_rate"]["gap_2018"], r["nearby_rate"]["reached_2018"]) == (0.0, True)
    assert r["immediate_rate"]["gap_2020"] == -16.67


def test_catalog_kpis_for_a_division_and_a_department(world):
    chikan = by_code(kpis.compute_all(region_code="440802"))
    # items 6, 7, 8: all onsite for persons; none immediate; 6 nearby; 7, 8 online; 7 one visit
    assert (chikan["immediate_rate"]["value"], chikan["nearby_rate"]["value"]) == (0.0, 33.33)
    assert (chikan["online_rate"]["value"], chikan["one_visit_rate"]["value"]) == (66.67, 33.33)
    market = by_code(kpis.compute_all(department_id=world["market"].pk))
    # items 1–5: onsite 1, 2, 3 of which immediate 1, 3 and nearby 1, 3; online 1, 4, 5; one visit 1, 3, 4, 5
    assert (market["immediate_rate"]["value"], market["nearby_rate"]["value"]) == (66.67, 66.67)
    assert (market["online_rate"]["value"], market["one_visit_rate"]["value"]) == (60.0, 80.0)
    assert kpis.value("online_rate", department_id=world["market"].pk) == 60.0
    assert kpis.value("online_rate", region_code="440803") is None  # 霞山区: no items


def test_online_breakdown_per_level(world):
    fig = kpis.figures(scope=kpis.resolve_scope(), period=SEP_OCT)
    b = kpis.online_breakdown(fig.catalog)
    # city level: items 1–5, online 1, 4, 5; county level: 6–8, online 7, 8
    assert [(x["level"], x["online"], x["total"], x["rate"]) for x in b["levels"]] == [("city", 3, 5, 60.0), ("county", 2, 3, 66.67)]
    # online levels 0..4: item 3; item 6; item 2; items 1, 7, 8; items 4, 5
    assert [x["items"] for x in b["online_levels"]] == [1, 1, 1, 3, 2]


def test_catalog_as_of_a_past_date_uses_item_versions(world, monkeypatch):
    items = world["items"]
    # every version so far was written on 2026-01-10 (Shanghai); then item 4 drops to "information only"
    ItemVersion.objects.update(changed_at=datetime(2026, 1, 10, 2, 0, tzinfo=timezone.utc))
    catalog_services.save_item(item_data(world["market"], code=items[3].code, audience="person", nearby_levels="",
                                         online_level=1, max_visits=0), item=items[3], reason="暂停网办")
    assert kpis.value("online_rate") == 50.0                       # now: 1, 5, 7, 8 of 8
    assert kpis.value("online_rate", on=date(2026, 6, 30)) == 62.5  # then: 1, 4, 5, 7, 8 of 8
    assert kpis.value("online_rate", on=date(2026, 1, 9)) is None    # before any item existed
    # the division filter reads the region from the snapshot
    assert kpis.value("online_rate", on=date(2026, 6, 30), region_code="440802") == 66.67


def test_case_kpis_over_a_period(world):
    r = by_code(kpis.figures(scope=kpis.resolve_scope(), period=SEP_OCT).kpis)
    # A, B, C, D decided in Sep–Oct (E was decided in August)
    assert (r["case_same_day_rate"]["numerator"], r["case_same_day_rate"]["denominator"]) == (1, 4)   # A
    assert r["case_same_day_rate"]["value"] == 25.0
    assert r["case_online_rate"]["value"] == 50.0      # B online, C kiosk
    assert r["case_nearby_rate"]["value"] == 50.0      # C and D at the town hall
    assert r["case_one_visit_rate"]["value"] == 50.0   # A (1 visit), B (0)
    assert r["on_time_rate"]["value"] == 75.0          # D was late
    assert r["avg_decide_workdays"]["value"] == 3.5    # (0 + 4 + 4 + 6) / 4
    assert r["overdue_count"]["value"] == 1            # F; H is paused, G not due
    assert r["long_suspension_count"]["value"] == 2    # D's inspection, H's running review
    assert (r["case_one_visit_rate"]["gap_2018"], r["case_one_visit_rate"]["reached_2018"]) == (-10.0, False)


def test_case_workdays_agree_with_core_workdays(world):
    decided = [world["cases"][k] for k in "ABCD"]
    expected = sum(workdays.workdays_between(c.accepted_on, c.decided_on) for c in decided)
    assert expected == 14
    rows = stats.live_rows(SEP_OCT.start, SEP_OCT.end)
    assert stats.totals(rows).workdays == 14


def test_case_kpis_for_a_division_and_a_department(world):
    chikan = by_code(kpis.figures(scope=kpis.resolve_scope("440802"), period=SEP_OCT).kpis)
    # only D: late, at the town hall, 3 visits, 6 working days
    assert (chikan["on_time_rate"]["value"], chikan["case_nearby_rate"]["value"], chikan["avg_decide_workdays"]["value"]) == (0.0, 100.0, 6.0)
    assert (chikan["overdue_count"]["value"], chikan["long_suspension_count"]["value"]) == (0, 1)
    market = by_code(kpis.figures(scope=kpis.resolve_scope(department_id=world["market"].pk), period=SEP_OCT).kpis)
    # A, B, C: all on time, one same-day, 8 working days over 3 cases
    assert (market["on_time_rate"]["value"], market["case_same_day_rate"]["value"]) == (100.0, 33.33)
    assert market["avg_decide_workdays"]["value"] == 2.67
    # a department outside the division counts nothing
    empty = by_code(kpis.figures(scope=kpis.resolve_scope("440802", world["market"].pk), period=SEP_OCT).kpis)
    assert empty["on_time_rate"]["value"] is None and empty["overdue_count"]["value"] == 0


def test_trend_and_comparisons(world):
    fig = kpis.figures(scope=kpis.resolve_scope(), period=SEP_OCT)
    assert [(t["label"], t["decided"], t["on_time_rate"]) for t in kpis.trend(fig)] == [("2026-09", 2, 100.0), ("2026-10", 2, 50.0)]
    divisions = {d["label"]: d for d in kpis.by_division(fig)}
    assert set(divisions) == {"湛江市本级", "赤坎区"}
    assert (divisions["湛江市本级"]["decided"], divisions["湛江市本级"]["on_time_rate"], divisions["湛江市本级"]["online_rate"]) == (3, 100.0, 60.0)
    assert (divisions["赤坎区"]["decided"], divisions["赤坎区"]["on_time_rate"], divisions["赤坎区"]["items"]) == (1, 0.0, 3)
    departments = {d["key"]: d for d in kpis.by_department(fig)}
    assert departments[world["civil"].pk]["on_time_rate"] == 0.0


def test_a_real_case_handled_on_the_spot_counts_as_same_day(people, make_item, monkeypatch):
    monkeypatch.setattr(workdays, "today", lambda: date(2026, 9, 28))
    item = make_item(audience="both", is_immediate=True, promised_days=0)
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], channel="window",
                                       materials={m.pk: {"at_window": True} for m in item.materials.all()})
    services.handle_immediately(case, actor=people["clerk"].user)
    r = by_code(kpis.figures(scope=kpis.resolve_scope(), period=kpis.Period(date(2026, 9, 1), date(2026, 9, 1))).kpis)
    assert (r["case_same_day_rate"]["value"], r["on_time_rate"]["value"], r["avg_decide_workdays"]["value"]) == (100.0, 100.0, 0.0)


# --------------------------------------------------------------------------------- precomputed == live

def _figures(scope_args=(), period=SEP_OCT, today=TODAY):
    fig = kpis.figures(scope=kpis.resolve_scope(*scope_args), period=period, today=today)
    return by_code(fig.kpis), kpis.trend(fig), kpis.by_division(fig), kpis.by_department(fig)


def test_precomputed_figures_equal_the_live_computation(world):
    scopes = [(), ("440802",), (None, world["market"].pk), ("440800",)]
    whole = kpis.Period(date(2026, 8, 1), date(2026, 11, 1))
    live = {(s, p): _figures(s, p) for s in scopes for p in (SEP_OCT, whole)}
    assert not CaseStat.objects.exists()
    out = kpi_services.refresh_stats(today=TODAY)
    assert out == {"stat_months": 3, "stat_rows": 5}  # Aug (E), Sep (A, B), Oct (C; D) by dept/hall/channel
    assert StatRefresh.objects.get().through == date(2026, 11, 9)
    for (s, p), expected in live.items():
        assert _figures(s, p) == expected, (s, p)
    # the stored rows themselves: September has A (window, city hall) and B (online)
    sep = CaseStat.objects.filter(month=date(2026, 9, 1)).order_by("channel")
    assert [(r.channel, r.hall_level, r.decided, r.same_day, r.on_time, r.one_visit, r.workdays) for r in sep] == [
        ("online", "", 1, 0, 1, 1, 4), ("window", "city", 1, 1, 1, 1, 0)]


def test_days_after_the_refresh_are_counted_live_and_then_stored(world):
    kpi_services.refresh_stats(today=TODAY)
    nov = kpis.Period(date(2026, 11, 1), date(2026, 11, 1))
    # decided today (after `through` = yesterday): counted live, not stored
    world["case"](world["items"][0], accepted="2026-11-10", decided="2026-11-10", deadline="2026-11-10", visits=1)
    assert _figures(period=nov)[0]["on_time_rate"]["numerator"] == 1
    assert not CaseStat.objects.filter(month=date(2026, 11, 1)).exists()
    # the next day's refresh stores it; the figure does not move
    tomorrow = date(2026, 11, 11)
    kpi_services.refresh_stats(today=tomorrow)
    assert CaseStat.objects.get(month=date(2026, 11, 1)).decided == 1
    assert _figures(period=nov, today=tomorrow)[0]["on_time_rate"]["numerator"] == 1
    # a refresh twice in a row changes nothing
    before = list(CaseStat.objects.order_by("month", "department_id", "hall_level", "channel").values_list(
        "month", "department_id", "hall_level", "channel", "decided", "same_day", "on_time", "one_visit", "workdays"))
    kpi_services.refresh_stats(today=tomorrow)
    after = list(CaseStat.objects.order_by("month", "department_id", "hall_level", "channel").values_list(
        "month", "department_id", "hall_level", "channel", "decided", "same_day", "on_time", "one_visit", "workdays"))
    assert before == after


def test_a_visit_recorded_after_the_decision_reaches_the_stats_within_the_lookback(world):
    kpi_services.refresh_stats(today=TODAY)
    c = world["case"](world["items"][0], accepted="2026-11-06", decided="2026-11-06", deadline="2026-11-06", visits=1)
    kpi_services.refresh_stats(today=date(2026, 11, 11))
    nov = kpis.Period(date(2026, 11, 1), date(2026, 11, 1))
    assert _figures(period=nov, today=date(2026, 11, 11))[0]["case_one_visit_rate"]["value"] == 100.0
    Case.objects.filter(pk=c.pk).update(visit_count=2)  # picked up the result at the window a few days later
    kpi_services.refresh_stats(today=date(2026, 11, 12))       # recounts from 11-10 minus 7 days: November again
    assert _figures(period=nov, today=date(2026, 11, 12))[0]["case_one_visit_rate"]["value"] == 0.0


# ---------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("region,department,code", [
    ("44080x", None, "invalid_region"), ("4408021234567", None, "invalid_region"), ("440899", None, "region_not_found"),
    (None, "abc", "invalid_department"), (None, "-1", "invalid_department"), (None, "99999999999999", "invalid_department"),
    (None, "987654", "department_not_found"),
])
def test_bad_scope_is_a_validation_error(world, region, department, code):
    with pytest.raises(ValidationError) as e:
        kpis.resolve_scope(region, department)
    assert e.value.code == code


@pytest.mark.parametrize("frm,to,code", [
    ("2026-13", None, "invalid_month"), ("2026/01", None, "invalid_month"), ("1999-12", None, "invalid_month"),
    ("2026-1", None, "invalid_month"), (None, "99999-01", "invalid_month"), ("2026-10", "2026-09", "invalid_period"),
    ("2000-01", "2026-01", "invalid_period"),
])
def test_bad_period_is_a_validation_error(frm, to, code):
    with pytest.raises(ValidationError) as e:
        kpis.parse_period(frm, to, today=TODAY)
    assert e.value.code == code


def test_default_period_is_this_year_to_date():
    p = kpis.parse_period(today=TODAY)
    assert (p.first_month, p.last_month, p.end) == (date(2026, 1, 1), date(2026, 11, 1), date(2026, 11, 30))


def test_unknown_kpi_code():
    with pytest.raises(ValidationError):
        kpis.value("nope")


def test_a_case_accepted_long_before_its_decision_counts_its_working_days(world):
    # accepted more than a year before its decision: beyond the calendar first sent with the query
    old = world["case"](world["items"][0], accepted="2025-03-03", decided="2026-09-30", deadline="2026-09-30")
    expected = workdays.workdays_between(old.accepted_on, old.decided_on)
    assert expected > 350
    rows = stats.live_rows(date(2026, 9, 1), date(2026, 9, 30))
    assert stats.totals(rows).workdays == 4 + expected  # B's 4, A's 0, and the old case


def test_drill_down_totals_from_the_figures_equal_the_listed_cases(world):
    kpi_services.refresh_stats(today=TODAY)
    for scope in (kpis.resolve_scope(), kpis.resolve_scope("440802"), kpis.resolve_scope(department_id=world["market"].pk)):
        for code in kpis.CASE_MET:
            for met in (None, True, False):
                listed = kpis.cases_behind(code, scope, SEP_OCT, met=met).count()
                assert kpis.cases_behind_count(code, scope, SEP_OCT, met=met) == listed, (scope.label, code, met)
    assert kpis.cases_behind_count("overdue_count", kpis.resolve_scope(), SEP_OCT) is None

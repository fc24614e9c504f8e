"""A synthetic year of cases for the demo, so the pages show real work: `generate_history()`.

Illustrative only: applicants with valid but made-up ID numbers and credit codes, cases in every
state, spread over the past year. Written with bulk inserts (a few thousand cases in seconds),
but every deadline comes from `cases.clock` and every case has the events that the services
would have written, so the history reads as if clerks and reviewers had done the work.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from bianmin.cases import clock
from bianmin.cases.models import (
    Applicant, Case, CaseEvent, CaseMaterial, CaseStatus, Channel, Delivery, ReviewTask, SupervisionHandover, Visit,
)
from bianmin.catalog.models import ServiceItem
from bianmin.core import workdays
from bianmin.core.identities import resident_id_with_check, uscc_with_check
from bianmin.core.models import Sequence
from bianmin.org.models import Hall, Level

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华文红玉兰海燕鹏飞宇浩然志国建华晓东嘉怡梓涵子轩雨欣"
COMPANIES = ["湛江市{}贸易有限公司", "湛江{}水产有限公司", "广东{}科技有限公司", "湛江市{}餐饮管理有限公司",
             "湛江{}建筑工程有限公司", "湛江市{}物流有限公司", "湛江{}农业专业合作社", "湛江市{}医药连锁有限公司"]
BRANDS = ["海滨", "南粤", "港城", "鹏程", "金沙", "椰林", "红土", "蓝海", "雷州湾", "硇洲", "东海岛", "寸金"]
# (status, share): most cases of the past year are finished; some are still open in every way
MIX = [("delivered", 0.72), ("decided", 0.03), ("in_review", 0.09), ("suspended", 0.02), ("supplement", 0.02),
       ("submitted", 0.04), ("rejected", 0.03), ("withdrawn", 0.05)]


def _applicants(rng: random.Random, persons: int, companies: int) -> tuple[list[Applicant], list[Applicant]]:
    people, firms = [], []
    counties = ["440802", "440803", "440804", "440811", "440823", "440825", "440881", "440882", "440883"]
    for i in range(persons):
        born = datetime(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
        first17 = f"{rng.choice(counties)}{born:%Y%m%d}{i % 1000:03d}"
        people.append(Applicant(kind="person", name=rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2]))),
                                id_number=resident_id_with_check(first17), phone=f"13{rng.randrange(10**8, 10**9)}"))
    for i in range(companies):
        first17 = f"914408{rng.choice(['02', '03', '04', '11', '23', '25', '81', '82', '83'])}MA{i:07d}"[:17]
        name = rng.choice(COMPANIES).format(rng.choice(BRANDS) + ("" if i < 12 else str(i)))
        firms.append(Applicant(kind="legal_person", name=name, id_number=uscc_with_check(first17),
                               phone=f"0759-{rng.randrange(2000000, 3999999)}", legal_representative=rng.choice(SURNAMES) + rng.choice(GIVEN)))
    Applicant.objects.bulk_create(people + firms, ignore_conflicts=True)
    ids = [a.id_number for a in people + firms]
    stored = {a.id_number: a for a in Applicant.objects.filter(id_number__in=ids)}
    return [stored[a.id_number] for a in people], [stored[a.id_number] for a in firms]


def _at(day, rng, hour_from=9, hour_to=17):
    local = datetime.combine(day, time(rng.randrange(hour_from, hour_to), rng.randrange(0, 60)))
    return timezone.make_aware(local)


@transaction.atomic
def generate_history(n: int = 3000, *, seed: int = 2026, today=None) -> int:
    """Create n cases over the year before `today` (skipped if the demo already has cases)."""
    if Case.objects.exists():
        return 0
    rng = random.Random(seed)
    today = today or clock.today()
    items = list(ServiceItem.objects.filter(status=ServiceItem.Status.PUBLISHED).select_related("department", "region")
                 .prefetch_related("materials", "halls"))
    if not items:
        return 0
    people, firms = _applicants(rng, max(50, n // 6), max(20, n // 30))
    city_hall = Hall.objects.filter(level=Level.CITY).first()
    statuses = [s for s, _ in MIX]
    weights = [w for _, w in MIX]
    seq: dict[tuple[str, str], int] = defaultdict(int)
    cases, plans = [], []
    for _ in range(n):
        item = rng.choice(items)
        audience = item.audience if item.audience != "both" else rng.choice(["person", "person", "legal_person"])
        applicant = rng.choice(people if audience == "person" else firms)
        status = rng.choices(statuses, weights)[0]
        open_case = status in ("in_review", "suspended", "supplement", "submitted")
        # open cases were submitted recently; finished ones any time in the year
        back = rng.randrange(0, 25) if open_case else rng.randrange(3, 365)
        submitted_on = today - timedelta(days=back)
        online = item.is_online and rng.random() < 0.65
        halls = list(item.halls.all())
        hall = None if online else (rng.choice(halls) if halls else city_hall)
        region = item.region.county_code
        seq[(region, submitted_on.strftime("%Y%m%d"))] += 1
        number = f"{region}-{submitted_on:%Y%m%d}-{seq[(region, submitted_on.strftime('%Y%m%d'))]:06d}"
        case = Case(number=number, item=item, item_version=item.version, department=item.department, applicant=applicant,
                    channel=Channel.ONLINE if online else Channel.WINDOW, hall=hall, status=CaseStatus.SUBMITTED,
                    submitted_at=_at(submitted_on, rng))
        plan = {"status": status, "submitted_on": submitted_on}
        if status not in ("submitted", "rejected") and not (status == "withdrawn" and rng.random() < 0.3):
            accepted_on = submitted_on if item.is_immediate or not online else workdays.add_workdays(submitted_on, rng.choice([0, 1]))
            accepted_on = min(accepted_on, today)
            case.accepted_on = accepted_on
            case.accepted_at = _at(accepted_on, rng)
            case.hall = case.hall or city_hall
            clock.refresh(case)
            plan["accepted_on"] = accepted_on
        case.visit_count = 0 if online else (1 if rng.random() < 0.9 else 2)
        cases.append(case)
        plans.append(plan)
    Case.objects.bulk_create(cases, batch_size=500)

    events, tasks, materials, deliveries, handovers, visits = [], [], [], [], [], []
    for case, plan in zip(cases, plans):
        item, status = case.item, plan["status"]
        events.append(CaseEvent(case=case, at=case.submitted_at, kind="submitted", to_status="submitted", from_status="draft",
                                actor_label=f"申请人 {case.applicant.name}", message=f"通过{case.get_channel_display()}提交申请"))
        for i, m in enumerate(item.materials.all()):
            materials.append(CaseMaterial(case=case, material=m, name=m.name, order=i,
                                          state=CaseMaterial.State.PROVIDED if m.required else CaseMaterial.State.NOT_NEEDED))
        for v in range(case.visit_count):
            visits.append(Visit(case=case, hall=case.hall, purpose="提交材料" if v == 0 else "补交材料", at=case.submitted_at + timedelta(days=v * 3)))
        if status == "rejected":
            case.status, case.rejection_reason = CaseStatus.REJECTED, "申请事项不属于本机关职权范围,已告知向有关机关申请"
            case.closed_at = case.submitted_at + timedelta(hours=2)
            events.append(CaseEvent(case=case, at=case.closed_at, kind="rejected", from_status="submitted", to_status="rejected",
                                    actor_label="综合窗口", message="不予受理:" + case.rejection_reason))
            continue
        if status == "submitted":
            continue
        if case.accepted_on is None:  # withdrawn before acceptance
            case.status, case.closed_at = CaseStatus.WITHDRAWN, case.submitted_at + timedelta(days=1)
            events.append(CaseEvent(case=case, at=case.closed_at, kind="withdrawn", from_status="submitted", to_status="withdrawn",
                                    actor_label=f"申请人 {case.applicant.name}", message="申请人撤回申请"))
            continue
        events.append(CaseEvent(case=case, at=case.accepted_at, kind="accepted", from_status="submitted", to_status="in_review",
                                actor_label="综合窗口", message="已受理"))
        if status in ("in_review", "suspended", "supplement"):
            case.status = status
            tasks.append(ReviewTask(case=case, stage=1, name="审查", department=case.department, role="reviewer", due=case.promised_deadline))
            if status != "in_review":
                case.stopped_on = min(today, workdays.add_workdays(case.accepted_on, 1))
                kind = "supplement" if status == "supplement" else rng.choice(["site_inspection", "expert_review", "hearing"])
                events.append(CaseEvent(case=case, at=_at(case.stopped_on, rng), kind="suspended" if status == "suspended" else "supplement_requested",
                                        from_status="in_review", to_status=status, actor_label="审查岗",
                                        message="现场勘验(计划 5 个工作日)" if kind != "supplement" else "一次性告知补正:" + (item.materials.all()[0].name if item.materials.all() else "材料")))
                case.resume_status = "in_review" if status == "supplement" else ""
            continue
        if status == "withdrawn":
            case.status, case.closed_at = CaseStatus.WITHDRAWN, case.accepted_at + timedelta(days=2)
            events.append(CaseEvent(case=case, at=case.closed_at, kind="withdrawn", from_status="in_review", to_status="withdrawn",
                                    actor_label=f"申请人 {case.applicant.name}", message="申请人撤回申请"))
            continue
        # decided: mostly on time, some late
        span = 0 if item.is_immediate else (rng.randrange(1, item.promised_days + 1) if item.promised_days and rng.random() < 0.9
                                             else item.promised_days + rng.randrange(1, 4))
        decided_on = min(workdays.add_workdays(case.accepted_on, span), today)
        case.decided_on, case.decided_at = decided_on, _at(decided_on, rng, 10, 18)
        case.approved = rng.random() < 0.94
        case.decision_text = "经审查,申请材料齐全、符合法定形式,准予办理" if case.approved else "经审查,申请人不符合法定条件,不予办理"
        case.status = CaseStatus.DECIDED
        events.append(CaseEvent(case=case, at=case.decided_at, kind="decided", from_status="in_review", to_status="decided",
                                actor_label="决定岗", message=("准予:" if case.approved else "不予:") + case.decision_text, data={"approved": case.approved}))
        if case.approved:
            handovers.append(SupervisionHandover(case=case, department=item.origin_department or case.department, pushed_at=case.decided_at,
                                                 claimed_at=case.decided_at + timedelta(days=1) if rng.random() < 0.85 else None))
        if status == "delivered":
            method = rng.choice(["window", "express", "electronic"]) if not item.is_immediate else "window"
            at = case.decided_at + timedelta(hours=rng.randrange(1, 72))
            deliveries.append(Delivery(case=case, method=method, delivered_at=at, hall=case.hall if method == "window" else None,
                                       address="湛江市赤坎区人民大道中 XX 号" if method == "express" else "",
                                       tracking_number=f"SF{rng.randrange(10**11, 10**12)}" if method == "express" else ""))
            case.status, case.closed_at = CaseStatus.DELIVERED, at
            events.append(CaseEvent(case=case, at=at, kind="delivered", from_status="decided", to_status="delivered",
                                    actor_label="出件窗口", message=Delivery.Method(method).label))
    Case.objects.bulk_update(cases, ["status", "rejection_reason", "closed_at", "stopped_on", "resume_status", "decided_on",
                                     "decided_at", "approved", "decision_text"], batch_size=500)
    CaseEvent.objects.bulk_create(events, batch_size=1000)
    ReviewTask.objects.bulk_create(tasks, batch_size=1000)
    CaseMaterial.objects.bulk_create(materials, batch_size=1000)
    Delivery.objects.bulk_create(deliveries, batch_size=1000)
    SupervisionHandover.objects.bulk_create(handovers, batch_size=1000)
    Visit.objects.bulk_create(visits, batch_size=1000)
    for (region, day), value in seq.items():  # later numbers continue after the generated ones
        Sequence.objects.update_or_create(name=f"case:{region}:{day}", defaults={"value": value})
    return n

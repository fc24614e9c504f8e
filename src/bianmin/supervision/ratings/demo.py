"""Demo 好差评: ratings on a third of the finished demo cases, mostly good; in departments with demo
staff accounts more 差评, in every state (pending, rectified, appealed, appeal upheld). Deterministic and idempotent: the same cases are
chosen every time and a rated case is never rated again."""

from __future__ import annotations

from bianmin.cases.models import Case, CaseStatus
from bianmin.org.models import Role, Staff

from . import selectors as ratings_read
from . import services as ratings
from ..models import Rating

SHARE = 3            # every third finished case (by id)
LIMIT = 600          # at most this many demo cases are looked at
SCORES = [5, 1, 4, 2, 5, 5, 4, 5, 3, 5, 4, 5, 5, 2, 5, 4, 5, 5, 3, 1]  # 4 in 20 are 差评
# Departments with demo staff accounts get more 差评, so that the demo console shows every state.
STAFFED_SCORES = [2, 5, 1, 4, 2, 5, 1, 3]
INDICATORS = {5: ["efficiency", "attitude", "one_visit"], 4: ["efficiency", "online"], 3: ["guide"],
              2: ["efficiency", "materials"], 1: ["attitude", "one_visit"]}
COMMENTS = {5: "办事效率高,一次办成。", 4: "网上办理方便。", 3: "", 2: "材料要求较多,等待时间长。", 1: "跑了两次才办成,窗口解释不清楚。"}
ANSWER = "已核实情况:对窗口人员进行业务培训,并在办事指南中补充材料示例。感谢您的监督。"


def _actors(department_id: int):
    staff = list(Staff.objects.filter(department_id=department_id, user__is_active=True).select_related("user"))
    answerer = next((s for s in staff if s.role in (Role.REVIEWER, Role.APPROVER, Role.CLERK)), None)
    head = next((s for s in staff if s.is_head or s.role == Role.APPROVER), None)
    return answerer, head


def load() -> dict[str, int]:
    chosen = list(Case.objects.filter(status__in=[CaseStatus.DECIDED, CaseStatus.DELIVERED])
                  .order_by("id").values_list("id", flat=True)[:LIMIT])[::SHARE]
    rated = set(Rating.objects.filter(case_id__in=chosen).values_list("case_id", flat=True))
    supervisor = Staff.objects.filter(role=Role.SUPERVISOR, user__is_active=True).select_related("user").first()
    departments = dict(Case.objects.filter(pk__in=chosen).values_list("pk", "department_id"))
    actors: dict[int, tuple] = {}
    made = 0
    handled = 0  # 差评 in departments with staff to handle them: they go through the states in turn
    seen = {True: 0, False: 0}
    for k, case_id in enumerate(chosen):
        dept = departments[case_id]
        if dept not in actors:
            actors[dept] = _actors(dept)
        answerer, head = actors[dept]
        staffed = bool(answerer and head)
        pattern = STAFFED_SCORES if staffed else SCORES
        score = pattern[seen[staffed] % len(pattern)]
        seen[staffed] += 1
        bad = ratings_read.is_bad_score(score)
        step = None
        if bad and staffed:
            step, handled = handled % 4, handled + 1
        if case_id in rated:
            continue
        case = Case.objects.select_related("applicant").get(pk=case_id)
        channel = Rating.Channel.DEVICE if case.hall_id and k % 2 else Rating.Channel.ONLINE
        r = ratings._rate(case, case.applicant, score=score, indicators=INDICATORS[score], comment=COMMENTS[score],
                          channel=channel, hall=None, actor="demo")
        made += 1
        if step == 1:
            ratings.answer_rating(r.pk, actor=answerer.user, answer=ANSWER)
        elif step in (2, 3):
            ratings.appeal_rating(r.pk, actor=head.user, reason="申请人因不符合法定条件未获许可,评价与服务无关。")
            if step == 3 and supervisor:
                ratings.decide_appeal(r.pk, actor=supervisor.user, upheld=True, decision="经核实,评价与办理服务无关,申诉成立。")
    return {"好差评": made}

"""Case reads shared by the pages and the API. Each list is one or two queries, whatever its length,
and each look-up enforces who may see what: an applicant their own cases, staff their department's."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from bianmin.core.errors import NotFound
from bianmin.org.models import Role, Staff, Window

from .models import (
    Case,
    CaseEvent,
    CaseMaterial,
    CaseStatus,
    Channel,
    ReviewTask,
    SupervisionHandover,
)

LIST_RELATED = ("item", "department", "applicant")


def _not_found():
    return NotFound("找不到该办件", code="case_not_found")


def applicant_case_filter(applicant) -> Q:
    """The record's cases its account sees (issue 11): all of them once the account proved its
    identity (cases.identity); an unverified account only what came in online, i.e. what it submitted
    itself, never a case a window registered for this number."""
    q = Q(applicant=applicant)
    if not applicant.is_verified:
        q &= ~Q(channel=Channel.WINDOW)
    return q


def account_sees_case(applicant, case) -> bool:
    """The same rule as applicant_case_filter, for one case in hand (notifications to the account)."""
    return applicant.user_id is not None and (applicant.is_verified or case.channel != Channel.WINDOW)


def applicant_cases(applicant) -> QuerySet[Case]:
    """我的办件: newest first (index case_applicant_recent)."""
    return (Case.objects.filter(applicant_case_filter(applicant)).select_related("item", "department")
            .only("id", "number", "status", "created_at", "submitted_at", "accepted_on", "decided_on", "promised_deadline",
                  "statutory_deadline", "stopped_on", "stopped_days", "extension_days", "approved", "visit_count",
                  "item__name", "item__code", "item__max_visits", "item__promised_days", "item__statutory_days",
                  "department__name")
            .order_by("-id"))


def staff_visible_cases(staff: Staff) -> QuerySet[Case]:
    """Cases a staff member may open: their department's; a clerk also every case in their hall's
    acceptance queue or accepted at their hall; supervisors and admins all."""
    qs = Case.objects.exclude(status=CaseStatus.DRAFT)
    if staff.sees_all_departments:
        return qs
    visible = Q(department_id=staff.department_id) | Q(tasks__department_id=staff.department_id)
    if staff.role == Role.CLERK and staff.hall_id:
        visible |= Q(hall_id=staff.hall_id) | _queue_filter(staff)
    return qs.filter(visible).distinct()


def _queue_filter(staff: Staff) -> Q:
    """What a window takes in: online and kiosk applications for items implemented in the hall's
    region (a comprehensive window, any department's; a department window, its own), and the cases
    registered at the hall itself."""
    hall = staff.hall
    q = Q(item__region_id=hall.region_id, hall__isnull=True) | Q(hall_id=hall.pk)
    window = staff.window
    if window is not None and window.kind == Window.Kind.DEPARTMENT:
        q &= Q(department_id__in=window.departments.values("pk"))
    return q


def acceptance_queue(staff: Staff) -> QuerySet[Case]:
    """待受理 and 待补正 (before acceptance) at this clerk's window, oldest first."""
    if staff.hall_id is None:
        return Case.objects.none()
    return (Case.objects.filter(_queue_filter(staff), status__in=[CaseStatus.SUBMITTED, CaseStatus.SUPPLEMENT],
                                accepted_on__isnull=True)
            .select_related(*LIST_RELATED).order_by("submitted_at", "id"))


def task_list(staff: Staff) -> QuerySet[ReviewTask]:
    """My department's open review tasks for my role, the nearest deadline first."""
    return (ReviewTask.objects.filter(department_id=staff.department_id, role=staff.role, state=ReviewTask.State.ACTIVE)
            .select_related("case", "case__item", "case__applicant")
            .order_by("due", "case_id"))


def handover_queue(staff: Staff) -> QuerySet[SupervisionHandover]:
    """谁审批谁监管: results pushed to my department, unclaimed first."""
    return (SupervisionHandover.objects.filter(department_id=staff.department_id)
            .select_related("case", "case__item", "case__applicant").order_by("claimed_at", "-pushed_at"))


def _detail(qs: QuerySet[Case]) -> QuerySet[Case]:
    return qs.select_related("item", "department", "applicant", "hall", "window").prefetch_related(
        Prefetch("materials", queryset=CaseMaterial.objects.prefetch_related("files")),
        Prefetch("events", queryset=CaseEvent.objects.order_by("at", "id")),
        Prefetch("tasks", queryset=ReviewTask.objects.select_related("department", "assignee")),
        "stops", "visits__hall",
    )


def case_for_applicant(user, number: str) -> Case:
    """The applicant's own case by number; anyone else's is 'not found' (never 'forbidden')."""
    applicant = getattr(user, "applicant", None)
    case = _detail(Case.objects.filter(applicant_case_filter(applicant), number=number[:32])).first() if applicant else None
    if case is None:
        raise _not_found()
    return case


def draft_for_applicant(user, pk: int) -> Case:
    applicant = getattr(user, "applicant", None)
    case = _detail(Case.objects.filter(applicant_case_filter(applicant), pk=pk, status=CaseStatus.DRAFT)).first() if applicant else None
    if case is None:
        raise _not_found()
    return case


def case_for_staff(staff: Staff, number: str) -> Case:
    case = _detail(staff_visible_cases(staff).filter(number=number[:32])).first()
    if case is None:
        raise _not_found()
    return case

"""Alert reads for the console: which open cards a staff member sees."""

from __future__ import annotations

from bianmin.cases.models import ReviewTask
from bianmin.org.models import Role, Staff

from ..models import Alert


def visible_alerts(staff: Staff, scope: str = ""):
    """Open cards a staff member may see: supervisors and admins all; a reviewer or approver those of
    cases waiting on their department and role ('mine'); everyone their department's."""
    qs = Alert.objects.filter(resolved_at__isnull=True)
    if staff.sees_all_departments and scope != "mine":
        return qs
    if scope == "mine" or (scope == "" and staff.role in (Role.REVIEWER, Role.APPROVER) and not staff.is_head):
        return qs.filter(case_id__in=ReviewTask.objects.filter(
            state=ReviewTask.State.ACTIVE, department_id=staff.department_id, role=staff.role).values("case_id"))
    return qs.filter(department_id=staff.department_id)

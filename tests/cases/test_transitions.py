"""The full transition table: every action from every status either is allowed by TRANSITIONS or is
refused with `illegal_transition`, leaving the case as it was."""

import pytest

from bianmin.cases import services
from bianmin.cases.models import Case, CaseStatus, ReviewTask
from bianmin.core.errors import DomainError

ALL_STATUSES = list(CaseStatus.values)


def _case_in(status, people, item):
    materials = {m.pk: {"at_window": True} for m in item.materials.all()}
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], materials=materials)
    Case.objects.filter(pk=case.pk).update(status=status)  # force the state under test
    ReviewTask.objects.create(case=case, stage=1, name="审查", department=case.department, role="reviewer")
    case.refresh_from_db()
    return case


def _call(action, case, people):
    """Invoke an action with an actor who would be allowed to do it in the right state."""
    clerk, reviewer, approver, citizen = (people["clerk"].user, people["reviewer"].user, people["approver"].user,
                                          people["citizen_user"])
    material = case.materials.first()
    task = case.tasks.first()
    calls = {
        "save_draft": lambda: services.save_draft(applicant=case.applicant, item=case.item, actor=citizen, case=case),
        "submit": lambda: services.submit_application(applicant=case.applicant, item=case.item, actor=citizen, draft=case,
                                                      materials={m.pk: {"at_window": True} for m in case.item.materials.all()}),
        "accept": lambda: services.accept_case(case, actor=clerk),
        "accept_with_pending": lambda: services.accept_case(case, actor=clerk, pending_material_ids=[material.pk]),
        "handle_immediately": lambda: services.handle_immediately(case, actor=clerk),
        "reject": lambda: services.reject_case(case, actor=clerk, reason="不属于本机关职权"),
        "request_supplement": lambda: services.request_supplement(case, actor=clerk, missing_ids=[material.pk]),
        "submit_supplement": lambda: services.submit_supplement(case, actor=clerk, files={material.pk: ["at_window"]}),
        "complete_task": lambda: services.complete_task(task, actor=reviewer, opinion="同意"),
        "return_task": lambda: services.return_task(task, actor=reviewer, reason="退回"),
        "suspend": lambda: services.suspend_case(case, actor=reviewer, kind="site_inspection", reason="现场勘验", planned_days=3),
        "resume": lambda: services.resume_case(case, actor=reviewer),
        "extend": lambda: services.extend_deadline(case, actor=approver, days=1, reason="延长"),
        "receive_pending": lambda: services.receive_pending_material(case, actor=clerk, case_material_id=material.pk),
        "decide": lambda: services.decide_case(case, actor=approver, approved=True, reasons="同意"),
        "deliver": lambda: services.deliver_result(case, actor=clerk, method="electronic"),
        "withdraw": lambda: services.withdraw_case(case, actor=citizen),
        "record_visit": lambda: services.record_visit(case, actor=clerk, purpose="咨询"),
    }
    return calls[action]()


def test_every_action_is_in_the_table():
    assert set(services.TRANSITIONS) == set(services.ACTION_LABELS)


@pytest.mark.parametrize("action", sorted(services.TRANSITIONS))
@pytest.mark.parametrize("status", ALL_STATUSES)
def test_transition_table(people, make_item, action, status):
    item = make_item(audience="both")
    case = _case_in(status, people, item)
    events_before = case.events.count()
    allowed = status in services.TRANSITIONS[action]
    try:
        _call(action, case, people)
    except DomainError as exc:
        if allowed:
            # allowed from this status: whatever refused it, it was not the transition table
            assert exc.code != "illegal_transition", (action, status)
        else:
            assert exc.code == "illegal_transition", (action, status, exc.code, exc.message)
            case.refresh_from_db()
            assert case.status == status and case.events.count() == events_before
        return
    assert allowed, f"{action} from {status} should have been refused"

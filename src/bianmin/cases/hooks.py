"""The seams between case handling and the apps around it. Each has a safe default now and is
where the licences, credit and notification apps plug in."""

from __future__ import annotations


def is_blacklisted(applicant) -> bool:
    """容缺受理 is not for applicants on a credit black list. The credit app answers this when it exists."""
    return False


def supervising_department(case):
    """谁审批谁监管: by default the department whose item it is (or was, for an approval bureau)."""
    return case.item.origin_department or case.department


def on_approved(case) -> None:
    """An approved item whose result is a licence gets it issued here once the licences app exists."""
    return None


def after_event(case, event) -> None:
    """Tell the applicant about the events they care about (after the transaction commits)."""
    from . import notify

    notify.case_event(case, event)

"""The seams between case handling and the apps around it, as hooks named in settings
(`BIANMIN_HOOKS`, read by `core.hooks`): the credit app answers the black list and leniency
questions, licences issues on approval, notifications follow events, without `cases` importing them.

`cases.services` calls the functions below; each asks the hook settings name. The defaults (the
`default_*` functions here, and `cases.notify.case_event`) are what settings name out of the box.
"""

from __future__ import annotations

from bianmin.core import hooks


# -- what services call ----------------------------------------------------------------------------

def is_blacklisted(applicant) -> bool:
    """On a credit black list (失信联合惩戒, T10/T11)? Answered by hook "is_blacklisted"."""
    return bool(hooks.get("is_blacklisted")(applicant))


def may_have_pending_acceptance(applicant) -> bool:
    """容缺受理 for this applicant? Hook "may_have_pending_acceptance" (default: unless black-listed). T10"""
    return bool(hooks.get("may_have_pending_acceptance")(applicant))


def may_make_commitment(applicant) -> bool:
    """告知承诺 for this applicant? Hook "may_make_commitment" (default: unless black-listed). T10"""
    return bool(hooks.get("may_make_commitment")(applicant))


def supervising_department(case):
    """谁审批谁监管: the department a decided case is handed over to (hook "supervising_department"). T13"""
    return hooks.get("supervising_department")(case)


def on_approved(case) -> None:
    """Inside the decision's transaction, after an approval: every listener of "on_approved" (licences
    issues the result licence)."""
    for listener in hooks.listeners("on_approved"):
        listener(case)


def after_event(case, event) -> None:
    """After every written case event (inside its transaction): every listener of "after_event"."""
    for listener in hooks.listeners("after_event"):
        listener(case, event)


# -- the defaults settings name ----------------------------------------------------------------------

def default_is_blacklisted(applicant) -> bool:
    """No credit app yet: nobody is on the black list."""
    return False


def default_leniency(applicant) -> bool:
    """容缺 and 告知承诺 are for applicants who are not black-listed."""
    return not is_blacklisted(applicant)


def default_supervising_department(case):
    """By default the department whose item it is (or was, for an approval bureau)."""
    return case.item.origin_department or case.department

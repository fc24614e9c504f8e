"""The seams between case handling and the apps around it. Each has a safe default now and is
where the licences, credit and notification apps plug in."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def is_blacklisted(applicant) -> bool:
    """容缺受理 is not for applicants on a credit black list. The credit app answers this when it exists."""
    return False


def supervising_department(case):
    """谁审批谁监管: by default the department whose item it is (or was, for an approval bureau)."""
    return case.item.origin_department or case.department


def on_approved(case):
    """An approved item whose result is a licence (item.result_licence_type names a LicenceType) has it
    issued to the applicant, signed by the deciding department's seal, in the decision's transaction.
    Returns the licence, or None when the item's result is no licence."""
    code = case.item.result_licence_type
    if not code:
        return None
    from bianmin.licences import services as licence_services
    from bianmin.licences.models import LicenceType

    licence_type = LicenceType.objects.filter(code=code).first()
    if licence_type is None:
        # The catalog checks result_licence_type against the types; one deleted since is logged, not fatal.
        log.warning("case %s: result licence type %r does not exist; no licence issued", case.number, code)
        return None
    applicant = case.applicant
    surface = {"证照名称": licence_type.name, "办理结果": case.item.result_name or case.item.name,
               "持证主体": applicant.name, "办件编号": case.number}
    if applicant.legal_representative:
        surface["法定代表人"] = applicant.legal_representative
    if applicant.address:
        surface["住所"] = applicant.address
    return licence_services.issue_licence(
        licence_type=licence_type, holder_name=applicant.name, holder_id_number=applicant.id_number,
        issuer=case.department, issued_on=case.decided_on, surface=surface, case_number=case.number,
        region_code=case.item.region_id, actor=None,
    )


def after_event(case, event) -> None:
    """Tell the applicant about the events they care about (after the transaction commits)."""
    from . import notify

    notify.case_event(case, event)

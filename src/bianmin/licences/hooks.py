"""What the licences app answers through the platform's hooks (`BIANMIN_HOOKS` in settings)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def issue_on_approval(case):
    """Hook "on_approved": an approved item whose result is a licence (item.result_licence_type names a
    LicenceType) has it issued to the applicant, signed by the deciding department's seal, in the
    decision's transaction. Returns the licence, or None when the item's result is no licence. T14"""
    code = case.item.result_licence_type
    if not code:
        return None
    from . import services
    from .models import LicenceType

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
    return services.issue_licence(
        licence_type=licence_type, holder_name=applicant.name, holder_id_number=applicant.id_number,
        issuer=case.department, issued_on=case.decided_on, surface=surface, case_number=case.number,
        region_code=case.item.region_id, actor=None,
    )

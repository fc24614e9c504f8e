"""API: licences. GET /licences/verify — the public verification page as JSON, for machines (no login).

The holder's own licences (holder_api.py) and the province's data-sharing API (exchange_api.py) have
their own routers. Errors: 400 invalid_licence_identifier (malformed or wrong check character),
404 licence_not_found, 422 invalid_request (no identifier given).
"""

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema

from bianmin.core.api import errors

from . import identifiers, services

router = Router(tags=["电子证照"])


class VerificationOut(Schema):
    identifier: str
    genuine: bool = Field(description="由颁证机构的电子印章签发")
    unaltered: bool = Field(description="证照信息及其状态与签名一致,未被篡改")
    status_unaltered: bool = Field(description="证照状态(有效、注销、换发)与颁证机构签章的状态记录一致")
    current: bool = Field(description="真实、状态有效且在有效期内")
    verdict: str = Field(description="current / revoked / expired / superseded / not_yet_valid / altered")
    message: str
    status: str
    status_label: str
    licence_type: str
    name: str
    number_masked: str
    version: int
    holder: str = Field(description="持证主体(自然人姓名已遮盖)")
    issuer: str
    issuer_code: str
    issued_on: date
    valid_from: date
    valid_until: date | None = Field(None, description="空表示长期有效")
    revoked_at: datetime | None = None
    seal_version: int
    checked_on: date


@router.get("/licences/verify", auth=None, response={200: VerificationOut, **errors(400, 404, 422)},
            summary="核验电子证照", operation_id="verify_licence")
def verify(request, response: HttpResponse, identifier: str = Query(..., max_length=identifiers.MAX_LENGTH * 4,
                                                                      description="证照标识")):
    """Genuine, unaltered and current, as the public page says; the holder masked, no identity number.
    Never cached: a revocation shows at once."""
    response["Cache-Control"] = "no-store"
    licence = services.find_by_identifier(identifier)
    return services.verification(licence)

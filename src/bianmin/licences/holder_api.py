"""API: the holder's own licences (/api/v1/my/…): list, PDF, share links, and who used them.

Same authentication as the cases API (session with CSRF, or a personal bearer token). Only an
applicant's account is a holder: a staff account gets 403, and another holder's licence or share
link is 404, never 403. The rules live in selectors and sharing; this module parses and serialises.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from django.http import HttpResponse
from ninja import Field, Router, Schema
from pydantic import ConfigDict

from bianmin.core import api as core_api
from bianmin.core import workdays
from bianmin.core.api import ERRORS, Status
from bianmin.core.api.auth import API_AUTH  # the platform's one API authentication (session or bearer token)
from bianmin.core.errors import PermissionDenied

from . import documents, selectors, sharing

router = Router(tags=["我的证照"], auth=API_AUTH)


class MyLicenceOut(Schema):
    identifier: str
    licence_type: str
    type_code: str
    name: str
    number: str
    holder_name: str
    issuer_name: str
    issued_on: date
    valid_from: date
    valid_until: date | None
    status: str
    status_label: str
    current: bool
    surface: dict
    pdf: str
    verify_url: str


class ShareIn(Schema):
    model_config = ConfigDict(extra="forbid")

    hours: Annotated[int, Field(ge=-(2**31), le=2**31)] = Field(description="有效时长(小时),1 到 720")
    show_fields: list[Annotated[str, Field(max_length=120)]] = Field(default_factory=lambda: list(sharing.DEFAULT_FIELDS),
                                                                     max_length=50)


class ShareLinkOut(Schema):
    id: int
    licence: str
    show_fields: list[str]
    expires_at: datetime
    state: str
    state_label: str
    created_at: datetime


class NewShareLinkOut(ShareLinkOut):
    url: str = Field(description="分享链接,只在创建时返回一次")


class UseOut(Schema):
    at: datetime
    licence: str
    licence_name: str
    via: str
    via_label: str
    user: str = Field(description="用证的部门或接入系统")
    case_number: str
    purpose: str


class UsePage(Schema):
    count: int
    page: int
    page_size: int
    results: list[UseOut]


def _holder(request):
    applicant = getattr(request.auth, "applicant", None)
    if applicant is None:
        raise PermissionDenied("仅限持证人本人(办事人账号)使用", code="applicant_required")
    return applicant


def _today() -> date:
    return workdays.today()


def licence_out(licence, today: date) -> dict:
    current = selectors.is_current(licence, today)
    return {
        "identifier": licence.identifier, "licence_type": licence.licence_type.name, "type_code": licence.licence_type.code,
        "name": licence.name, "number": licence.number, "holder_name": licence.holder_name, "issuer_name": licence.issuer_name,
        "issued_on": licence.issued_on, "valid_from": licence.valid_from, "valid_until": licence.valid_until,
        "status": licence.status, "status_label": licence.get_status_display(), "current": current,
        "surface": licence.surface if isinstance(licence.surface, dict) else {},
        "pdf": f"/api/v1/my/licences/{licence.identifier}/pdf", "verify_url": f"/licences/verify/{licence.identifier}/",
    }


def share_out(link, identifier: str) -> dict:
    state = sharing.state(link)
    return {"id": link.pk, "licence": identifier, "show_fields": list(link.show_fields or []), "expires_at": link.expires_at,
            "state": state, "state_label": sharing.STATE_LABELS[state], "created_at": link.created_at}


def use_out(use) -> dict:
    who = use.client.name if use.client_id else (use.department.name if use.department_id else "持证人分享链接的访问者"
                                                 if use.via == "share_link" else "")
    return {"at": use.at, "licence": use.licence.identifier, "licence_name": use.licence.name, "via": use.via,
            "via_label": use.get_via_display(), "user": who, "case_number": use.case_number, "purpose": use.purpose}


@router.get("/my/licences", response={200: list[MyLicenceOut], **ERRORS}, summary="我的证照",
            description="本人(或本单位)的全部电子证照,含已过期、已注销的;current 表示今天是否有效。")
def my_licences(request):
    holder = _holder(request)
    today = _today()
    return [licence_out(x, today) for x in selectors.holder_licences(holder)[:500]]


@router.get("/my/licences/{identifier}/pdf", response={200: None, **ERRORS}, summary="下载证照 PDF")
def my_licence_pdf(request, identifier: str):
    licence = selectors.holder_licence(_holder(request), identifier)
    response = HttpResponse(documents.licence_pdf(licence, base_url=request.build_absolute_uri("/").rstrip("/")),
                            content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="licence-{licence.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@router.get("/my/licences/{identifier}/share-links", response={200: list[ShareLinkOut], **ERRORS}, summary="证照的分享链接")
def my_share_links(request, identifier: str):
    licence = selectors.holder_licence(_holder(request), identifier)
    return [share_out(link, licence.identifier) for link in licence.share_links.order_by("-id")[:200]]


@router.post("/my/licences/{identifier}/share-links", response={201: NewShareLinkOut, **ERRORS}, summary="分享核验链接",
             description="hours:有效时长 1 到 720 小时;show_fields:要展示的字段(holder_name、holder_id_number、number、"
                         "issued_on、validity,或照面信息 surface:<名称>)。链接只在此返回一次。")
def create_share_link(request, identifier: str, body: ShareIn):
    holder = _holder(request)
    licence = selectors.holder_licence(holder, identifier)
    link, token = sharing.create_share_link(licence, holder=holder, hours=body.hours, show_fields=body.show_fields,
                                            actor=request.auth)
    out = share_out(link, licence.identifier)
    out["url"] = request.build_absolute_uri(f"/licences/shared/{token}/")
    return Status(201, out)


@router.post("/my/share-links/{link_id}/revoke", response={200: ShareLinkOut, **ERRORS}, summary="撤销分享链接")
def revoke_share_link(request, link_id: str):
    link = sharing.revoke(link_id[:20], holder=_holder(request), actor=request.auth)
    return share_out(link, link.licence.identifier)


@router.get("/my/licence-uses", response={200: UsePage, **ERRORS}, summary="我的用证记录",
            description="哪个部门或接入系统在什么时候、为什么用了我的证照。")
def my_licence_uses(request, page: str = "1", page_size: str = "20"):
    holder = _holder(request)
    result = core_api.page(selectors.holder_uses(holder), page, page_size)
    return {"count": result.paginator.count, "page": result.number, "page_size": result.paginator.per_page,
            "results": [use_out(u) for u in result.object_list]}

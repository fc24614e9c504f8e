"""Pages of the licence repository.

Public: the verification page (where a licence's QR code points) — genuine, unaltered, current, with
the holder masked and no identity number; never cached, so a revocation shows at once.

Console (/console/licences/): the licences my department issued (search, filters, pages), a licence's
page with its PDF and revocation, my department's seals and their rotation, and the bulk import.
Staff see their own department's licences; supervisors and system admins (Staff.sees_all_departments)
see every department's. Another department's licence answers 404. The services decide who may revoke,
rotate and import; the views only parse, call them and render.
"""

from __future__ import annotations

import io

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bianmin.core.errors import DomainError, NotFound, ValidationError
from bianmin.core.identities import mask_id_number
from bianmin.core.pagination import paginate
from bianmin.org.access import staff_console
from bianmin.org.models import Role

from . import documents, excel, identifiers, seals, services
from .models import Licence, LicenceStatus, LicenceType, LicenceUse, Seal

NS = "console:licences_console"
PAGE_SIZE = 20
MAX_QUERY = 200  # an identifier is about 70 characters
MAX_ID = 2**53
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REVOKE_ROLES = (Role.APPROVER, Role.ADMIN)
IMPORT_ROLES = (Role.APPROVER, Role.ADMIN)


# ----------------------------------------------------------------------------- public verification

def _no_store(response):
    # never_cache (on the views) marks the answer no-store: a revocation must show at once
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_http_methods(["GET", "HEAD"])
def verify_form(request):
    """A form to paste an identifier; a submitted one goes to its own page."""
    raw = request.GET.get("identifier")
    if raw is None:
        return _no_store(render(request, "licences/verify_form.html", {}))
    try:
        parsed = identifiers.parse_identifier(raw)
    except ValidationError as exc:
        return _no_store(render(request, "licences/verify_form.html", {"error": exc.message, "value": raw[:200]}, status=400))
    return redirect("licences:verify_identifier", parsed.text)


@never_cache
@require_http_methods(["GET", "HEAD"])
def verify_identifier(request, identifier: str):
    try:
        licence = services.find_by_identifier(identifier)
    except ValidationError as exc:
        return _no_store(render(request, "licences/verify_form.html", {"error": exc.message, "value": identifier[:200]}, status=400))
    except NotFound as exc:
        return _no_store(render(request, "licences/verify.html", {"not_found": exc.message, "identifier": identifier[:200]}, status=404))
    return _no_store(render(request, "licences/verify.html", {"v": services.verification(licence)}))


# ----------------------------------------------------------------------------- console: access



def visible_licences(staff):
    qs = Licence.objects.all()
    return qs if staff.sees_all_departments else qs.filter(issuer_id=staff.department_id)


def _licence_or_404(request, pk: int) -> Licence:
    if pk > MAX_ID:  # beyond a bigint: not ours (and the database would refuse the query)
        raise Http404("找不到该证照")
    licence = (visible_licences(request.staff).select_related("licence_type", "issuer", "seal", "supersedes")
               .filter(pk=pk).first())
    if licence is None:
        raise Http404("找不到该证照")
    return licence


def _log_use(request, licence: Licence, purpose: str) -> None:
    """Staff reading someone's licence is a use the holder sees on their page."""
    services.log_licence_use(licence=licence, via=LicenceUse.Via.CONSOLE, actor=request.user,
                             department_id=request.staff.department_id, purpose=purpose)


# ----------------------------------------------------------------------------- console: list and detail

@staff_console()
@require_http_methods(["GET", "HEAD"])
def licence_list(request):
    staff = request.staff
    q = " ".join("".join(ch for ch in request.GET.get("q") or "" if ch.isprintable()).split())[:MAX_QUERY]
    type_code = (request.GET.get("type") or "").strip()[:40]
    status = (request.GET.get("status") or "").strip()
    error = None
    qs = visible_licences(staff).select_related("licence_type").only(
        "id", "identifier", "name", "number", "version", "holder_name", "holder_id_type", "issued_on", "valid_until",
        "status", "issuer_name", "licence_type__name", "licence_type__code",
    )
    if status and status not in LicenceStatus.values:
        error, status = "状态筛选条件无效", ""
    if status:
        qs = qs.filter(status=status)
    # every type (a few dozen): finding the ones this department ever issued would scan its licences
    types = list(LicenceType.objects.order_by("code").only("code", "name"))
    if type_code:
        if type_code in {t.code for t in types}:
            qs = qs.filter(licence_type__code=type_code)
        else:
            error, type_code = "证照类型筛选条件无效", ""
    if q:
        # each alternative has its index (a "contains" search would read every licence of the department)
        qs = qs.filter(Q(number=q) | Q(identifier=q.upper()) | Q(holder_name__startswith=q))
    qs = qs.order_by("-id")
    try:
        page = paginate(qs, request.GET.get("page"), PAGE_SIZE)
    except ValidationError as exc:
        error = exc.message
        page = paginate(qs, 1, PAGE_SIZE)
    query = urlencode({k: v for k, v in (("q", q), ("type", type_code), ("status", status)) if v})
    return render(request, "licences/console/list.html", {
        "page": page, "q": q, "type": type_code, "status": status, "types": types, "statuses": LicenceStatus.choices,
        "error": error, "query": query, "nav": "list",
    }, status=400 if error else 200)


def _can_revoke(staff, licence: Licence) -> bool:
    return staff.role in REVOKE_ROLES and staff.department_id == licence.issuer_id and licence.status in (
        LicenceStatus.VALID, LicenceStatus.EXPIRED)


def _detail_page(request, licence: Licence, error: str | None = None, status: int = 200):
    rows = documents.licence_rows(licence)
    if licence.holder_id_type == "resident_id":  # a person's ID number masked on screen (the PDF has it whole)
        rows = [(label, mask_id_number(value) if value == licence.holder_id_number else value) for label, value in rows]
    return render(request, "licences/console/detail.html", {
        "licence": licence, "rows": rows,
        "v": services.verification(licence), "can_revoke": _can_revoke(request.staff, licence),
        "superseded_by": Licence.objects.filter(supersedes=licence).only("id", "identifier").first(),
        "error": error, "nav": "list",
    }, status=status)


@staff_console()
@require_http_methods(["GET", "HEAD"])
def licence_detail(request, pk: int):
    licence = _licence_or_404(request, pk)
    _log_use(request, licence, "查看证照")
    return _detail_page(request, licence)


@staff_console()
@require_http_methods(["GET", "HEAD"])
def licence_pdf(request, pk: int):
    licence = _licence_or_404(request, pk)
    _log_use(request, licence, "下载证照文件")
    pdf = documents.licence_pdf(licence, base_url=request.build_absolute_uri("/"))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, f"{licence.name}-{licence.number}.pdf")
    response["Cache-Control"] = "private, no-store"
    return response


@staff_console()
@require_POST
def licence_revoke(request, pk: int):
    licence = _licence_or_404(request, pk)
    try:
        services.revoke_licence(licence, request.POST.get("reason", ""), request.user)
    except DomainError as exc:
        return _detail_page(request, licence, exc.message, exc.status)
    messages.success(request, f"已注销{licence.name}(编号 {licence.number}),核验页面即时显示为已注销。")
    return redirect(f"{NS}:detail", pk)


# ----------------------------------------------------------------------------- console: seals

@staff_console()
@require_http_methods(["GET", "HEAD"])
def seal_list(request):
    staff = request.staff
    rows = (Seal.objects.filter(department_id=staff.department_id).annotate(signed=Count("licences"))
            .only("id", "version", "public_key", "created_at", "retired_at").order_by("-version"))
    return render(request, "licences/console/seals.html", {
        "seals": rows, "department": staff.department, "can_rotate": staff.role == Role.ADMIN, "nav": "seals",
    })


@staff_console(Role.ADMIN)
@require_POST
def seal_rotate(request):
    if request.POST.get("confirm") != "1":
        messages.error(request, "请勾选确认后再更换印章密钥")
        return redirect(f"{NS}:seals")
    try:
        seal = seals.rotate_seal(request.staff.department, request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(f"{NS}:seals")
    messages.success(request, f"已启用第 {seal.version} 版印章密钥;此前签发的证照仍可用原密钥核验。")
    return redirect(f"{NS}:seals")


# ----------------------------------------------------------------------------- console: import

@staff_console(*IMPORT_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
def licence_import(request):
    ctx = {"max_mb": excel.MAX_FILE_BYTES // 1024 // 1024, "max_rows": excel.MAX_ROWS, "dry_run": False,
           "nav": "import", "columns": excel.COLUMNS}
    if request.method != "POST":
        return render(request, "licences/console/import.html", ctx)
    upload = request.FILES.get("file")
    ctx["dry_run"] = dry_run = bool(request.POST.get("dry_run"))
    if upload is None:
        ctx["error"] = "请选择要导入的 .xlsx 文件"
        return render(request, "licences/console/import.html", ctx, status=400)
    try:
        result = excel.import_licences(upload, actor=request.user, dry_run=dry_run)
    except DomainError as exc:
        ctx.update({"error": exc.message, "details": exc.details[:1000], "more": max(0, len(exc.details) - 1000)})
        return render(request, "licences/console/import.html", ctx, status=exc.status)
    ctx["result"] = result
    return render(request, "licences/console/import.html", ctx)


@staff_console(*IMPORT_ROLES)
@require_http_methods(["GET", "HEAD"])
def import_template(request):
    buf = io.BytesIO()
    excel.write_template(buf, department=request.staff.department)
    response = HttpResponse(buf.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, "存量证照导入模板.xlsx")
    return response


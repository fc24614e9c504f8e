"""The catalog administrator's console: list, create, edit, publish and withdraw items; Excel in and out.

Who may use it: staff with role catalog_admin (their own department's items) or admin, and superusers
(all items). Anonymous users go to the login page; other staff get 403; an item of another department
answers 404, so that its existence is not revealed. The views are thin: they parse the request, call
`services` (where every rule lives) or `selectors`, and render; a DomainError is shown beside its field.
"""

from __future__ import annotations

import io
import re
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.db.models import Prefetch
from django.forms import CheckboxSelectMultiple
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.views.decorators.http import require_http_methods, require_POST

from bianmin.core import xlsx
from bianmin.core.errors import DomainError, ValidationError
from bianmin.org.models import Department, Level, Role

from . import excel, search, selectors, services
from .forms import ItemForm, MaterialFormSet, material_initial, proof_choices
from .models import Audience, ItemKind, Material, OnlineLevel, Proof, ServiceItem

NS = "console:catalog_console"  # included under the console's own namespace
CONSOLE_ROLES = (Role.CATALOG_ADMIN, Role.ADMIN)
PAGE_SIZE = 20
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -------------------------------------------------------------------------------------- who sees what

def _staff(user):
    return getattr(user, "staff", None) if user.is_authenticated else None


def can_use_console(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    staff = _staff(user)
    return staff is not None and staff.role in CONSOLE_ROLES


def sees_all(user) -> bool:
    staff = _staff(user)
    return user.is_superuser or (staff is not None and staff.role == Role.ADMIN)


def manageable_items(user):
    """The items this user may manage: the same line services.check_can_edit draws."""
    qs = ServiceItem.objects.all()
    if sees_all(user):
        return qs
    staff = _staff(user)
    if staff is None or staff.role != Role.CATALOG_ADMIN:
        return qs.none()
    return qs.filter(department_id=staff.department_id)


def manageable_departments(user):
    qs = Department.objects.order_by("region_id", "id")
    if sees_all(user):
        return qs
    staff = _staff(user)
    return qs.filter(pk=staff.department_id) if staff else qs.none()


def catalog_console(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not can_use_console(request.user):
            raise PermissionDenied("只有事项管理员可以使用事项管理")
        return view(request, *args, **kwargs)

    return wrapper


def _item_or_404(request, pk, *, detail=False):
    qs = manageable_items(request.user).select_related("department", "origin_department", "region")
    if detail:
        qs = qs.prefetch_related(Prefetch("materials", queryset=Material.objects.select_related("proof")),
                                 "halls", "themes", "proofs")
    return get_object_or_404(qs, pk=pk)


# -------------------------------------------------------------------------------------- list

@catalog_console
@require_http_methods(["GET", "HEAD"])
def item_list(request):
    q = (request.GET.get("q") or "").strip()[:search.MAX_QUERY]
    status = (request.GET.get("status") or "").strip()
    error = None
    qs = manageable_items(request.user)
    if status and status not in ServiceItem.Status.values:
        error, status = "状态筛选条件无效", ""
    if status:
        qs = qs.filter(status=status)
    qs = search.apply(qs, q) if q else qs.order_by("department_id", "id")
    try:
        page = selectors.paginate(selectors.list_columns(qs), request.GET.get("page"), PAGE_SIZE)
    except ValidationError as exc:
        error = exc.message
        page = selectors.paginate(selectors.list_columns(qs), 1, PAGE_SIZE)
    query = urlencode({k: v for k, v in (("q", q), ("status", status)) if v})
    return render(request, "catalog/console/list.html", {
        "page": page, "q": q, "status": status, "statuses": ServiceItem.Status.choices, "error": error,
        "query": query, "sees_all": sees_all(request.user), "nav": "list",
    }, status=400 if error else 200)


# -------------------------------------------------------------------------------------- detail

CHOICE_LABELS = {
    "kind": dict(ItemKind.choices), "audience": dict(Audience.choices), "level": dict(Level.choices),
    "status": dict(ServiceItem.Status.choices), "online_level": dict(OnlineLevel.choices),
}
FORM_LABELS = dict(Material.Form.choices)


def _material_text(m: dict) -> str:
    parts = [FORM_LABELS.get(m.get("form"), m.get("form") or ""), f"{m.get('copies', 1)} 份",
             "必要" if m.get("required") else "非必要"]
    if m.get("pending_allowed"):
        parts.append("可容缺后补")
    if m.get("commitment_allowed"):
        parts.append("可告知承诺")
    if m.get("satisfied_by"):
        parts.append(f"电子证照 {m['satisfied_by']} 可替代")
    if m.get("proof"):
        parts.append(f"证明:{m['proof']}")
    text = f"{m.get('name', '')}({','.join(p for p in parts if p)})"
    return text + (f":{m['description']}" if m.get("description") else "")


def readable(field: str, value) -> str:
    """A value of an ItemVersion diff as a person reads it."""
    if value is None or value == "" or value == []:
        return "(空)"
    if field in CHOICE_LABELS:
        return str(CHOICE_LABELS[field].get(value, value))
    if field == "nearby_levels":
        labels = dict(Level.choices)
        return "、".join(labels.get(x, x) for x in str(value).split(",") if x) or "(空)"
    if isinstance(value, bool):
        return "是" if value else "否"
    if field == "materials" and isinstance(value, list):
        return "\n".join(f"{i}. {_material_text(m)}" if isinstance(m, dict) else f"{i}. {m}" for i, m in enumerate(value, start=1))
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def version_rows(versions):
    """Each version with its diff as rows 字段/原值/新值; rows that read the same (None vs "") are left out."""
    out = []
    for v in versions:
        changes = []
        for d in v.diff or []:
            if not isinstance(d, dict):
                continue
            fname = d.get("field", "")
            old, new = readable(fname, d.get("old")), readable(fname, d.get("new"))
            if old != new:
                changes.append({"label": d.get("label") or services.FIELD_LABELS.get(fname, fname), "old": old, "new": new})
        out.append({"version": v, "changes": changes})
    return out


def _render_detail(request, item, *, status=200, errors=None, withdraw_reason="", publish_reason=""):
    versions = item.versions.select_related("changed_by__staff").order_by("-version", "-id")
    return render(request, "catalog/console/detail.html", {
        "item": item, "versions": version_rows(versions), "errors": errors or {},
        "withdraw_reason": withdraw_reason, "publish_reason": publish_reason,
        "nearby": readable("nearby_levels", item.nearby_levels),
    }, status=status)


@catalog_console
@require_http_methods(["GET", "HEAD"])
def item_detail(request, pk):
    return _render_detail(request, _item_or_404(request, pk, detail=True))


def _change_status(request, pk, action, service, done):
    """Publish or withdraw: the service decides; a refusal re-renders the page with its message."""
    item = _item_or_404(request, pk)
    reason = (request.POST.get("reason") or "").strip()[:300]
    try:
        item = service(item, actor=request.user, reason=reason)
    except DomainError as exc:
        return _render_detail(request, _item_or_404(request, pk, detail=True), status=exc.status,
                              errors={action: exc.message}, **{f"{action}_reason": reason})
    messages.success(request, f"{done}事项“{item.name}”(第 {item.version} 版)")
    return redirect(f"{NS}:detail", pk=item.pk)


@catalog_console
@require_POST
def item_publish(request, pk):
    return _change_status(request, pk, "publish", services.publish_item, "已发布")


@catalog_console
@require_POST
def item_withdraw(request, pk):
    return _change_status(request, pk, "withdraw", services.withdraw_item, "已撤回")


# -------------------------------------------------------------------------------------- create / edit

def _formset(request, item, proofs):
    kwargs = {"prefix": "materials", "form_kwargs": {"proofs": proofs}}
    if request.method == "POST":
        return MaterialFormSet(request.POST, **kwargs)
    return MaterialFormSet(initial=material_initial(item), **kwargs)


def _place_errors(exc: DomainError, form: ItemForm, formset, row_of: list[int]) -> list[dict]:
    """Put each of save_item's errors beside its field. Returns the summary list for the top of the page."""
    summary = []
    details = exc.details or [{"field": exc.field, "message": exc.message, "code": exc.code}]
    for d in details:
        fname, message, code = d.get("field"), str(d.get("message") or exc.message), d.get("code") or exc.code
        if fname is None and code in ("other_department", "not_catalog_admin"):
            fname = "department"
        anchor = ""
        if fname == "materials":
            idx = None
            m = re.search(r"第 (\d+) 项", message)
            if m and 0 < int(m.group(1)) <= len(row_of):
                idx = row_of[int(m.group(1)) - 1]
            else:
                m = re.search(r"“(.+?)”", message)
                if m:
                    idx = next((i for i, f in enumerate(formset.forms)
                                if (getattr(f, "cleaned_data", {}) or {}).get("name", "").strip() == m.group(1)), None)
            if idx is not None:
                f = formset.forms[idx]
                f.add_error("name", message)
                anchor = f["name"].auto_id
            else:
                anchor = "materials"
                formset.item_errors.append(message)
        elif fname == "proofs" and (idx := _material_with_proof(formset, message)) is not None:
            formset.forms[idx].add_error("proof", message)
            anchor = formset.forms[idx]["proof"].auto_id
        elif fname in form.fields:
            form.add_error(fname, message)
            anchor = form[fname].auto_id
            if isinstance(form.fields[fname].widget, CheckboxSelectMultiple):
                anchor = f"{anchor}_0"
        else:
            form.add_error(None, message)
        summary.append({"message": message, "anchor": anchor})
    return summary


def _material_with_proof(formset, message: str) -> int | None:
    """The material row whose proof an error names (“name”), if it is a material's proof."""
    m = re.search(r"“(.+?)”", message)
    if not m:
        return None
    for i, f in enumerate(formset.forms):
        proof = ((getattr(f, "cleaned_data", {}) or {}).get("proof") or "").strip()
        if proof and (proof == m.group(1) or (proof.isdigit() and Proof.objects.filter(pk=int(proof), name=m.group(1)).exists())):
            return i
    return None


def _render_form(request, form, formset, item, summary=(), status=200):
    return render(request, "catalog/console/form.html", {
        "form": form, "formset": formset, "item": item, "summary": list(summary),
        "material_errors": getattr(formset, "item_errors", []), "nav": "edit" if item else "new",
    }, status=status)


@catalog_console
@require_http_methods(["GET", "HEAD", "POST"])
def item_edit(request, pk=None):
    editing = pk is not None
    item = _item_or_404(request, pk, detail=request.method != "POST") if editing else None
    departments = list(manageable_departments(request.user))
    current_proofs = list(item.proofs.all()) if editing else []
    proofs = proof_choices(current_proofs)
    form_kwargs = {"departments": departments, "editing": editing, "current_proofs": current_proofs}

    if request.method != "POST":
        if editing:
            initial = ItemForm.initial_for(item)
        else:  # the model's defaults, and the department when there is only one to choose
            initial = {f: ServiceItem._meta.get_field(f).default for f in ("online_level", "max_visits", "fee_fen")}
            if len(departments) == 1:
                initial["department"] = str(departments[0].pk)
        form = ItemForm(initial=initial, **form_kwargs)
        formset = _formset(request, item, proofs)
        formset.item_errors = []
        return _render_form(request, form, formset, item)

    form = ItemForm(request.POST, **form_kwargs)
    formset = _formset(request, item, proofs)
    formset.item_errors = []
    form.is_valid()  # every field is optional: this only parses
    if not formset.is_valid() and formset.non_form_errors():
        form.add_error(None, "申请材料部分的数据不完整,请重新打开本页后再填写")
        return _render_form(request, form, formset, item, [{"message": m, "anchor": ""} for m in formset.non_form_errors()], 400)

    data = form.to_data()
    row_of = [i for i, f in enumerate(formset.forms) if not f.is_blank()]
    data["materials"] = [formset.forms[i].to_data() for i in row_of]
    reason = (form.cleaned_data.get("reason") or "").strip() if editing else ""

    if editing and not reason:
        # Not a catalog rule but the console's: a change without a reason is not saved. Show the item's
        # own problems (services.clean_item writes nothing) together with this one.
        message = "变更原因:修改事项须填写变更原因"
        form.add_error("reason", message)
        summary = [{"message": message, "anchor": form["reason"].auto_id}]
        _, _, errors = services.clean_item(data)
        if errors:
            summary += _place_errors(ValidationError("", details=errors), form, formset, row_of)
        return _render_form(request, form, formset, item, summary, 400)

    before = item.version if editing else 0
    try:
        saved = services.save_item(data, actor=request.user, item=item, reason=reason)
    except DomainError as exc:
        summary = _place_errors(exc, form, formset, row_of)
        return _render_form(request, form, formset, item, summary, 403 if exc.status == 403 else 400)
    except IntegrityError:  # e.g. two people saving the same new code at once
        message = "保存时与其他人的修改冲突(例如实施编码刚被占用),请检查后重新提交"
        form.add_error(None, message)
        return _render_form(request, form, formset, item, [{"message": message, "anchor": ""}], 409)
    if not editing:
        messages.success(request, f"已新建事项“{saved.name}”({saved.get_status_display()}),发布前请核对办事指南")
    elif saved.version != before:
        messages.success(request, f"已保存事项“{saved.name}”,生成第 {saved.version} 版")
    else:
        messages.info(request, "没有修改任何内容,未生成新版本")
    return redirect(f"{NS}:detail", pk=saved.pk)


# -------------------------------------------------------------------------------------- Excel

@catalog_console
@require_http_methods(["GET", "HEAD", "POST"])
def item_import(request):
    ctx = {"max_mb": xlsx.MAX_FILE_BYTES // 1024 // 1024, "max_rows": excel.MAX_ITEM_ROWS, "dry_run": False, "nav": "import"}
    if request.method != "POST":
        return render(request, "catalog/console/import.html", ctx)
    upload = request.FILES.get("file")
    ctx["dry_run"] = dry_run = bool(request.POST.get("dry_run"))
    error = None
    if upload is None:
        error = "请选择要导入的 .xlsx 文件"
    elif upload.size > xlsx.MAX_FILE_BYTES:
        error = f"文件超过 {ctx['max_mb']} MB,请拆分后分批导入"
    elif upload.size == 0:
        error = "文件是空的,请选择导出的 .xlsx 文件"
    else:
        head = upload.read(8)  # by content, not by name
        upload.seek(0)
        try:
            xlsx.check_magic(head)
        except ValidationError as exc:
            error = exc.message
    if error:
        ctx["error"] = error
        return render(request, "catalog/console/import.html", ctx, status=400)
    try:
        result = excel.import_catalog(upload, actor=request.user, dry_run=dry_run)
    except DomainError as exc:
        ctx.update({"error": exc.message, "code": exc.code, "details": exc.details[:1000],
                    "more": max(0, len(exc.details) - 1000)})
        return render(request, "catalog/console/import.html", ctx, status=400)
    ctx["result"] = result
    return render(request, "catalog/console/import.html", ctx)


@catalog_console
@require_http_methods(["GET", "HEAD"])
def item_export(request):
    buf = io.BytesIO()
    count = excel.export_catalog(buf, manageable_items(request.user))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(buf.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, f"事项目录-{stamp}.xlsx")
    response["X-Item-Count"] = str(count)
    return response

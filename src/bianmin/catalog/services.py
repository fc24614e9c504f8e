"""Every write to the catalog. One function per business action, one transaction each.

`save_item` is the single entry for creating and changing an item, whoever calls it (the
console form, the Excel import, the demo loader): it validates the ten unified elements,
writes the item, its materials and links, records an `ItemVersion` with a readable
difference, refreshes the search index and appends to the audit log.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils import timezone

from bianmin.core import audit, xlsx
from bianmin.core.errors import NotFound, PermissionDenied, ValidationError
from bianmin.org.models import Department, Hall, Level, Region, Role

from . import search
from .models import Audience, ItemKind, ItemVersion, Material, OnlineLevel, Proof, ServiceItem, Theme

TEXT_FIELDS = ["name", "basic_code", "code", "legal_basis", "conditions", "route", "fees",
               "result_name", "result_licence_type", "location", "hours", "phone", "supervision_phone"]
REQUIRED_TEXT = {"name", "basic_code", "code", "legal_basis", "conditions", "route"}
FIELD_LABELS = {f.name: str(f.verbose_name) for f in ServiceItem._meta.get_fields() if hasattr(f, "verbose_name")}
FIELD_LABELS.update({"materials": "申请材料", "department": "实施主体", "region": "实施区划", "halls": "可申办大厅",
                     "themes": "主题", "proofs": "所需证明", "origin_department": "原业务主管部门"})
MATERIAL_FIELDS = ["name", "description", "form", "copies", "required", "pending_allowed",
                   "commitment_allowed", "satisfied_by", "proof"]
LEVELS = set(Level.values)
CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-_.]{2,79}$")


def _errors() -> list[dict]:
    return []


def _add(errors, field, message, code="invalid"):
    errors.append({"field": field, "code": code, "message": f"{FIELD_LABELS.get(field, field)}:{message}"})


def _as_int(errors, data, field, lo=0, hi=32767, default=None):
    value = data.get(field, default)
    if value in (None, ""):
        _add(errors, field, "不能为空", "required")
        return None
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
    except (TypeError, ValueError):
        _add(errors, field, f"应为整数,收到“{value}”", "not_integer")
        return None
    if not lo <= number <= hi:
        _add(errors, field, f"应在 {lo} 到 {hi} 之间", "out_of_range")
        return None
    return number


def _as_bool(errors, field, value, label="") -> bool:
    """Yes/no from a form, JSON or an Excel cell (the words of `core.xlsx.yes_no`; blank is no);
    anything else is an error, never a silent no."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return False
    answer = xlsx.yes_no(value)
    if answer is None:
        _add(errors, field, f"{label}应填“是”或“否”,收到“{str(value)[:20]}”", "not_boolean")
    return bool(answer)


def _choice(errors, data, field, choices, labels=None):
    value = data.get(field)
    if value in (None, ""):
        _add(errors, field, "不能为空", "required")
        return None
    value = str(value).strip()
    if value in choices:
        return value
    if labels and value in labels:  # accept the Chinese label too (Excel users type 行政许可)
        return labels[value]
    _add(errors, field, f"“{value}”不是有效的取值", "invalid_choice")
    return None


def _nearby_levels(errors, value) -> str:
    if isinstance(value, str):
        parts = [p.strip() for p in re.split(r"[,,、\s]+", value) if p.strip()]
    else:
        parts = list(value or [])
    labels = {label: code for code, label in Level.choices}
    labels.update({"市级": "city", "县级": "county", "镇级": "town", "村级": "village", "镇(街道)级": "town", "村(社区)级": "village"})
    out = []
    for p in parts:
        code = p if p in LEVELS else labels.get(p)
        if not code:
            _add(errors, "nearby_levels", f"“{p}”不是有效的层级(市级、县级、镇级、村级)", "invalid_choice")
            continue
        if code not in out:
            out.append(code)
    order = ["city", "county", "town", "village"]
    return ",".join(sorted(out, key=order.index))


def clean_item(data: dict[str, Any]) -> tuple[dict, list[dict], list[dict]]:
    """Validate raw input into model values. Returns (values, materials, errors); no database writes."""
    errors = _errors()
    values: dict[str, Any] = {}
    for field in TEXT_FIELDS:
        raw = data.get(field)
        text = "" if raw is None else str(raw).strip()
        max_length = ServiceItem._meta.get_field(field).max_length
        if field in REQUIRED_TEXT and not text:
            _add(errors, field, "不能为空", "required")
        elif max_length and len(text) > max_length:
            _add(errors, field, f"不能超过 {max_length} 个字", "too_long")
        values[field] = text
    # Codes are identifiers: upper-case, so that search by code is one index look-up.
    values["code"] = values["code"].upper()
    values["basic_code"] = values["basic_code"].upper()
    if values.get("code") and not CODE_RE.match(values["code"]):
        _add(errors, "code", "只能包含字母、数字和 - _ .,长度 3 到 80", "invalid_code")
    if values.get("fees") == "":
        values["fees"] = "不收费"
    if values["name"].startswith(xlsx.FORMULA_STARTS):
        _add(errors, "name", "事项名称不能以 = + - @ 开头(在 Excel 等表格软件中会被当作公式)", "formula_prefix")

    kind_labels = {label: code for code, label in ItemKind.choices}
    values["kind"] = _choice(errors, data, "kind", ItemKind.values, kind_labels)
    aud_labels = {label: code for code, label in Audience.choices}
    aud_labels.update({"自然人和法人": "both", "自然人、法人": "both"})
    values["audience"] = _choice(errors, data, "audience", Audience.values, aud_labels)
    level_labels = {label: code for code, label in Level.choices}
    level_labels.update({"市级": "city", "县级": "county", "镇级": "town", "村级": "village"})
    values["level"] = _choice(errors, data, "level", LEVELS, level_labels)

    values["statutory_days"] = _as_int(errors, data, "statutory_days", 0, 3650)
    values["promised_days"] = _as_int(errors, data, "promised_days", 0, 3650)
    values["fee_fen"] = _as_int(errors, data, "fee_fen", 0, 10**9, default=0)
    values["online_level"] = _as_int(errors, data, "online_level", 0, 4, default=OnlineLevel.APPLY)
    values["max_visits"] = _as_int(errors, data, "max_visits", 0, 20, default=1)
    values["is_immediate"] = _as_bool(errors, "is_immediate", data.get("is_immediate", False))
    values["nearby_levels"] = _nearby_levels(errors, data.get("nearby_levels", ""))

    sd, pd = values["statutory_days"], values["promised_days"]
    if sd is not None and pd is not None and pd > sd:
        _add(errors, "promised_days", f"承诺时限({pd} 个工作日)不能超过法定时限({sd} 个工作日)", "promised_exceeds_statutory")
    if values["is_immediate"] and pd not in (None, 0):
        _add(errors, "promised_days", "即办件当场办结,承诺时限应为 0", "immediate_with_wait")
    if values["fee_fen"] and values.get("fees") == "不收费":
        _add(errors, "fees", "收费金额大于 0 时须写明收费标准", "fees_missing")

    materials = []
    raw_materials = data.get("materials") or []
    if not isinstance(raw_materials, list):
        _add(errors, "materials", "格式不正确", "invalid")
        raw_materials = []
    for i, m in enumerate(raw_materials, start=1):
        if not isinstance(m, dict):
            _add(errors, "materials", f"第 {i} 项格式不正确", "invalid")
            continue
        name = str(m.get("name") or "").strip()
        if not name:
            _add(errors, "materials", f"第 {i} 项材料名称不能为空", "required")
            continue
        if len(name) > 200:
            _add(errors, "materials", f"第 {i} 项材料名称不能超过 200 个字", "too_long")
            continue
        form = str(m.get("form") or Material.Form.ORIGINAL)
        form_labels = {label: code for code, label in Material.Form.choices}
        form = form_labels.get(form, form)
        if form not in Material.Form.values:
            _add(errors, "materials", f"第 {i} 项材料形式“{form}”无效", "invalid_choice")
            continue
        required = _as_bool(errors, "materials", m.get("required", True), f"“{name}”的“必要”")
        pending = _as_bool(errors, "materials", m.get("pending_allowed", False), f"“{name}”的“可容缺”")
        commitment = _as_bool(errors, "materials", m.get("commitment_allowed", False), f"“{name}”的“可告知承诺”")
        if pending and not required:
            _add(errors, "materials", f"“{name}”:只有必要材料才能设为容缺后补", "pending_not_required")
            continue
        copies = m.get("copies") or 1
        try:
            if isinstance(copies, bool) or (isinstance(copies, float) and not copies.is_integer()):
                raise ValueError
            copies = int(copies)
        except (TypeError, ValueError):
            _add(errors, "materials", f"“{name}”:份数应为整数", "not_integer")
            continue
        if not 1 <= copies <= 99:
            _add(errors, "materials", f"“{name}”:份数应在 1 到 99 之间", "out_of_range")
            continue
        description = str(m.get("description") or "").strip()
        satisfied_by = str(m.get("satisfied_by") or "").strip()
        if len(description) > 500 or len(satisfied_by) > 40:
            _add(errors, "materials", f"“{name}”:说明不能超过 500 个字,证照类型代码不能超过 40 个字符", "too_long")
            continue
        materials.append({
            "name": name, "description": description, "form": form, "copies": copies, "required": required,
            "pending_allowed": pending, "commitment_allowed": commitment, "satisfied_by": satisfied_by,
            "proof": m.get("proof"),
        })
    return values, materials, errors


def _find_department(errors, field, ref):
    """A department by USCC, by exact name (refused when two regions share it), or by id."""
    ref = str(ref).strip()
    found = Department.objects.filter(uscc=ref.upper()).first()
    if not found:
        named = list(Department.objects.filter(name=ref)[:2])
        if len(named) > 1:
            _add(errors, field, f"有多个名为“{ref}”的部门,请改填其统一社会信用代码", "ambiguous_department")
            return None
        found = named[0] if named else None
    if not found and ref.isdigit() and len(ref) < 18:
        found = Department.objects.filter(pk=int(ref)).first()
    if not found:
        _add(errors, field, f"找不到部门“{ref}”", "unknown_department")
    return found


def _resolve_links(errors, data, values, materials):
    """Turn department/region/hall/theme/proof references into objects; an unknown one is an error."""
    dept = data.get("department")
    if isinstance(dept, Department):
        values["department"] = dept
    elif dept in (None, ""):
        _add(errors, "department", "不能为空", "required")
    else:
        values["department"] = _find_department(errors, "department", dept)

    origin = data.get("origin_department")
    values["origin_department"] = None
    if isinstance(origin, Department):
        values["origin_department"] = origin
    elif origin not in (None, ""):
        values["origin_department"] = _find_department(errors, "origin_department", origin)

    region = data.get("region")
    if isinstance(region, Region):
        values["region"] = region
    elif region in (None, ""):
        # By default an item is implemented in its department's region; an unknown department is reported above.
        values["region"] = values["department"].region if values.get("department") else None
    else:
        values["region"] = Region.objects.filter(code=str(region).strip()).first()
        if not values["region"]:
            _add(errors, "region", f"找不到行政区划“{region}”", "unknown_region")

    links = {}
    hall_ids = data.get("halls") or []
    halls = list(Hall.objects.filter(pk__in=[h for h in hall_ids if str(h).isdigit()]))
    if len(halls) != len(set(map(str, hall_ids))):
        _add(errors, "halls", "包含不存在的大厅", "unknown_hall")
    links["halls"] = halls
    theme_codes = [str(t).strip() for t in (data.get("themes") or []) if str(t).strip()]
    themes = list(Theme.objects.filter(code__in=theme_codes))
    unknown = set(theme_codes) - {t.code for t in themes}
    if unknown:
        _add(errors, "themes", f"未知主题:{'、'.join(sorted(unknown))}", "unknown_theme")
    links["themes"] = themes

    # T9: an item may only ask for a proof on the retained list.
    proof_refs = list(data.get("proofs") or []) + [m["proof"] for m in materials if m.get("proof") not in (None, "")]
    proofs_by_ref = {}
    for ref in proof_refs:
        key = str(ref.pk if isinstance(ref, Proof) else ref).strip()
        if key in proofs_by_ref:
            continue
        proof = ref if isinstance(ref, Proof) else (
            Proof.objects.filter(pk=int(key)).first() if key.isdigit()
            else Proof.objects.filter(name=key).order_by("-is_retained", "id").first())
        if proof is None or not proof.is_retained:
            _add(errors, "proofs", f"“{ref}”不在保留证明事项清单内,不得要求申请人提供", "proof_not_retained")
            continue
        proofs_by_ref[key] = proof
    for m in materials:
        if m.get("proof") not in (None, ""):
            m["proof"] = proofs_by_ref.get(str(m["proof"].pk if isinstance(m["proof"], Proof) else m["proof"]).strip())
        else:
            m["proof"] = None
    links["proofs"] = list({p.pk: p for p in proofs_by_ref.values()}.values())
    return links


def _check_licence_types(errors, values, materials) -> None:
    """An item's result licence and a material's 电子证照替代 must name a registered licence type
    (licences.LicenceType.code); otherwise nothing could ever be issued or filled from it. One query."""
    from bianmin.licences.models import LicenceType

    wanted = {values.get("result_licence_type") or ""} | {m["satisfied_by"] for m in materials}
    wanted.discard("")
    known = set(LicenceType.objects.filter(code__in=wanted).values_list("code", flat=True)) if wanted else set()
    code = values.get("result_licence_type")
    if code and code not in known:
        _add(errors, "result_licence_type", f"“{code}”不是已登记的电子证照类型代码", "unknown_licence_type")
    for m in materials:
        if m["satisfied_by"] and m["satisfied_by"] not in known:
            _add(errors, "materials", f"“{m['name']}”:可替代的电子证照类型代码“{m['satisfied_by']}”未登记", "unknown_licence_type")


def _shape(scalars: dict, department, origin, halls, themes, proofs, materials) -> dict:
    """An item's version record: every field a person edits, links by name. Built the same way from
    the stored item and from a proposed change, so that comparing the two says what changed."""
    data = {f: scalars[f] for f in TEXT_FIELDS}
    for f in ("kind", "audience", "level", "statutory_days", "promised_days", "fee_fen", "online_level",
              "max_visits", "is_immediate", "nearby_levels", "status", "region"):
        data[f] = scalars[f]
    data.update({
        "department": department.name if department else "",
        "origin_department": origin.name if origin else "",
        "halls": sorted(h.name for h in halls),
        "themes": sorted(t.name for t in themes),
        "proofs": sorted(p.name for p in proofs),
        "materials": [{f: (m[f].name if f == "proof" and m[f] else m[f] if f != "proof" else "") for f in MATERIAL_FIELDS}
                      for m in materials],
    })
    return data


def _snapshot(item: ServiceItem) -> dict:
    """The stored item, read afresh (a prefetched copy of its materials may be stale)."""
    scalars = {f: getattr(item, f) for f in TEXT_FIELDS}
    scalars.update({f: getattr(item, f) for f in ("kind", "audience", "level", "statutory_days", "promised_days", "fee_fen",
                                                  "online_level", "max_visits", "is_immediate", "nearby_levels", "status")})
    scalars["region"] = item.region_id
    materials = [{f: getattr(m, f) for f in MATERIAL_FIELDS}
                 for m in Material.objects.filter(item=item).select_related("proof").order_by("order", "id")]
    return _shape(scalars, item.department, item.origin_department, Hall.objects.filter(items=item),
                  Theme.objects.filter(items=item), Proof.objects.filter(items=item), materials)


def _diff(before: dict, after: dict) -> list[dict]:
    out = []
    for key in after:
        if before.get(key) != after.get(key):
            out.append({"field": key, "label": FIELD_LABELS.get(key, key), "old": before.get(key), "new": after.get(key)})
    return out


def check_can_edit(actor, department: Department | None) -> None:
    """Catalog admins edit their own department's items; system admins edit any."""
    if actor is None:  # system loaders (demo data, migrations)
        return
    if getattr(actor, "is_superuser", False):
        return
    staff = getattr(actor, "staff", None)
    if staff is None or staff.role not in (Role.CATALOG_ADMIN, Role.ADMIN):
        raise PermissionDenied("只有事项管理员可以维护事项", code="not_catalog_admin")
    if staff.role != Role.ADMIN and department is not None and department.pk != staff.department_id:
        raise PermissionDenied("只能维护本部门的事项", code="other_department")


@transaction.atomic
def save_item(data: dict[str, Any], *, actor=None, item: ServiceItem | None = None, reason: str = "",
              action: str | None = None) -> ServiceItem:
    """Create an item (as a draft unless data says status) or change one; record the version."""
    values, materials, errors = clean_item(data)
    links = _resolve_links(errors, data, values, materials)
    _check_licence_types(errors, values, materials)
    if item is not None:
        check_can_edit(actor, item.department)
    check_can_edit(actor, values.get("department"))
    if values.get("code"):
        clash = ServiceItem.objects.filter(code=values["code"])
        if item is not None:
            clash = clash.exclude(pk=item.pk)
        if clash.exists():
            _add(errors, "code", f"实施编码“{values['code']}”已被其他事项使用", "duplicate_code")
    if errors:
        raise ValidationError(errors[0]["message"] if len(errors) == 1 else f"有 {len(errors)} 处需要修改:" + ";".join(e["message"] for e in errors[:3]),
                              code="invalid_item", details=errors)

    creating = item is None
    status = item.status if item else (data.get("status") or ServiceItem.Status.DRAFT)
    if status not in ServiceItem.Status.values:
        status = ServiceItem.Status.DRAFT
    if status == ServiceItem.Status.PUBLISHED and not materials:
        raise ValidationError("事项没有申请材料,不能发布", code="no_materials", field="materials")
    before = {} if creating else _snapshot(item)
    after = _shape({**values, "status": status, "region": values["region"].pk}, values["department"],
                   values["origin_department"], links["halls"], links["themes"], links["proofs"], materials)
    diff = _diff(before, after)
    if not creating and not diff:  # nothing changed: no write, no new version
        return item

    if creating:
        item = ServiceItem(status=status, version=0)
    for key, value in values.items():
        setattr(item, key, value)
    item.version += 1
    if item.status == ServiceItem.Status.PUBLISHED and not item.published_at:
        item.published_at = timezone.now()
    item.save()
    item.halls.set(links["halls"])
    item.themes.set(links["themes"])
    item.proofs.set(links["proofs"])
    if creating or before["materials"] != after["materials"]:
        item.materials.all().delete()
        Material.objects.bulk_create([Material(item=item, order=i, **m) for i, m in enumerate(materials)])
    if hasattr(item, "_prefetched_objects_cache"):
        item._prefetched_objects_cache.clear()
    search.index_item(item)

    act = action or (ItemVersion.Action.CREATE if creating else ItemVersion.Action.UPDATE)
    ItemVersion.objects.create(item=item, version=item.version, action=act, changed_by=_user(actor), reason=reason[:300], diff=diff, snapshot=after)
    audit.record(f"catalog.item.{act}", actor=actor or "system", obj=item, data={"code": item.code, "version": item.version, "fields": [d["field"] for d in diff]})
    return item


def _user(actor):
    return actor if getattr(actor, "pk", None) and hasattr(actor, "get_username") else None


def _set_status(item: ServiceItem, status: str, action: str, actor, reason: str) -> ServiceItem:
    check_can_edit(actor, item.department)
    item = ServiceItem.objects.select_for_update().get(pk=item.pk)
    if item.status == status:
        return item
    old = item.status
    item.status = status
    item.version += 1
    if status == ServiceItem.Status.PUBLISHED:
        item.published_at = timezone.now()
    item.save(update_fields=["status", "version", "published_at", "updated_at"])
    ItemVersion.objects.create(
        item=item, version=item.version, action=action, changed_by=_user(actor), reason=reason[:300],
        diff=[{"field": "status", "label": "状态", "old": old, "new": status}], snapshot=_snapshot(item),
    )
    audit.record(f"catalog.item.{action}", actor=actor or "system", obj=item, data={"code": item.code, "reason": reason})
    search.index_item(item)
    return item


@transaction.atomic
def publish_item(item: ServiceItem, *, actor=None, reason: str = "") -> ServiceItem:
    if not item.materials.exists():
        raise ValidationError("事项没有申请材料,不能发布", code="no_materials")
    return _set_status(item, ServiceItem.Status.PUBLISHED, ItemVersion.Action.PUBLISH, actor, reason)


@transaction.atomic
def withdraw_item(item: ServiceItem, *, actor=None, reason: str = "") -> ServiceItem:
    if not reason.strip():
        raise ValidationError("撤回事项须说明原因", code="reason_required", field="reason")
    return _set_status(item, ServiceItem.Status.WITHDRAWN, ItemVersion.Action.WITHDRAW, actor, reason)


def get_item_by_code(code: str, *, published_only: bool = True) -> ServiceItem:
    qs = ServiceItem.objects.all()
    if published_only:
        qs = qs.filter(status=ServiceItem.Status.PUBLISHED)
    item = qs.select_related("department", "region", "origin_department").filter(code=code).first()
    if item is None:
        raise NotFound(f"找不到编码为“{code}”的事项", code="item_not_found")
    return item

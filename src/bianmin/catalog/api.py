"""Catalog API: the published items and the retained proofs list."""

from __future__ import annotations

from ninja import Router, Schema

from bianmin.core.api import errors
from bianmin.core.errors import NotFound

from . import selectors
from .models import CancelledProof, Proof

router = Router(tags=["事项目录"])


class ItemOut(Schema):
    code: str
    basic_code: str
    name: str
    kind: str
    kind_label: str
    department: str
    department_id: int
    region: str
    level: str
    audience: str
    is_immediate: bool
    online_level: int
    nearby_levels: list[str]
    max_visits: int
    statutory_days: int
    promised_days: int
    fee_fen: int
    url: str

    @staticmethod
    def from_item(i) -> dict:
        return {
            "code": i.code, "basic_code": i.basic_code, "name": i.name, "kind": i.kind, "kind_label": i.get_kind_display(),
            "department": i.department.name, "department_id": i.department_id, "region": i.region_id, "level": i.level,
            "audience": i.audience, "is_immediate": i.is_immediate, "online_level": i.online_level,
            "nearby_levels": i.nearby_level_list, "max_visits": i.max_visits, "statutory_days": i.statutory_days,
            "promised_days": i.promised_days, "fee_fen": i.fee_fen, "url": f"/items/{i.code}/",
        }


class ItemPage(Schema):
    count: int
    page: int
    page_size: int
    results: list[ItemOut]


class MaterialOut(Schema):
    name: str
    description: str
    form: str
    copies: int
    required: bool
    pending_allowed: bool
    commitment_allowed: bool
    satisfied_by: str
    proof: str | None


class ItemDetailOut(ItemOut):
    legal_basis: str
    conditions: str
    route: str
    fees: str
    result_name: str
    location: str
    hours: str
    phone: str
    supervision_phone: str
    version: int
    updated_at: str
    materials: list[MaterialOut]
    halls: list[str]
    themes: list[str]


class ProofOut(Schema):
    id: int
    name: str
    legal_basis: str
    requesting_unit: str
    issuing_unit: str
    guide: str


class CancelledProofOut(Schema):
    id: int
    name: str
    requesting_unit: str
    reason: str
    reason_label: str
    alternative: str
    cancelled_on: str


@router.get("/items", response={200: ItemPage, **errors(400)}, summary="检索事项", description=(
    "q 支持中文词、拼音全拼与首字母(如 bdcdj)和事项编码;筛选:department、region、level、audience、kind、theme、"
    "immediate/online/nearby/one_visit(1 或 0)。分页:page、page_size(不超过 100)。"))
def list_items(request, q: str = "", department: str = "", region: str = "", level: str = "", audience: str = "",
               kind: str = "", theme: str = "", immediate: str = "", online: str = "", nearby: str = "",
               one_visit: str = "", page: str = "1", page_size: str = "20"):
    params = {k: v for k, v in locals().items() if k not in ("request", "page", "page_size")}
    f = selectors.ItemFilters.from_params(params)
    result = selectors.paginate(selectors.list_columns(selectors.search_items(f)), page, page_size, count_with_rows=bool(f.q))
    return {
        "count": result.paginator.count, "page": result.number, "page_size": result.paginator.per_page,
        "results": [ItemOut.from_item(i) for i in result.object_list],
    }


@router.get("/items/{code}", response={200: ItemDetailOut, **errors(404)}, summary="事项办事指南")
def get_item(request, code: str):
    item = selectors.item_detail(code[:80])
    if item is None:
        raise NotFound(f"找不到编码为“{code[:80]}”的已发布事项", code="item_not_found")
    out = ItemOut.from_item(item)
    out.update({
        "legal_basis": item.legal_basis, "conditions": item.conditions, "route": item.route, "fees": item.fees,
        "result_name": item.result_name, "location": item.location, "hours": item.hours, "phone": item.phone,
        "supervision_phone": item.supervision_phone, "version": item.version, "updated_at": item.updated_at.isoformat(),
        "materials": [
            {"name": m.name, "description": m.description, "form": m.form, "copies": m.copies, "required": m.required,
             "pending_allowed": m.pending_allowed, "commitment_allowed": m.commitment_allowed,
             "satisfied_by": m.satisfied_by, "proof": m.proof.name if m.proof_id else None}
            for m in item.materials.all()
        ],
        "halls": [h.name for h in item.halls.all()],
        "themes": [t.name for t in item.themes.all()],
    })
    return out


@router.get("/proofs", response={200: list[ProofOut], **errors()}, summary="保留证明事项清单")
def list_proofs(request):
    return list(Proof.objects.filter(is_retained=True).values("id", "name", "legal_basis", "requesting_unit", "issuing_unit", "guide"))


@router.get("/proofs/cancelled", response={200: list[CancelledProofOut], **errors()}, summary="已取消证明事项")
def list_cancelled_proofs(request):
    return [
        {"id": p.id, "name": p.name, "requesting_unit": p.requesting_unit, "reason": p.reason,
         "reason_label": p.get_reason_display(), "alternative": p.alternative, "cancelled_on": p.cancelled_on.isoformat()}
        for p in CancelledProof.objects.all()
    ]

"""The public, Chinese-first pages of the catalog: the 四办 catalog (T5), the guide pages (T6),
the retained and cancelled proofs (T8, T9) and the 一件事 bundles.

Views are thin: parse, call a selector, render. Every page works without JavaScript.
"""

from __future__ import annotations

import re

from django.db.models import Count, Prefetch, Q
from django.http import QueryDict
from django.shortcuts import render

from bianmin.core.errors import ValidationError
from bianmin.org.models import Level

from . import selectors
from .models import Bundle, BundleItem, CancelledProof, Proof, ServiceItem

PAGE_SIZE = 20
FILTER_KEYS = ("q", "department", "level", "audience", "kind", "theme", "immediate", "online", "nearby", "one_visit")
FOUR_WAYS = (("immediate", "马上办"), ("online", "网上办"), ("nearby", "就近办"), ("one_visit", "一次办"))
LEVEL_ORDER = [code for code, _ in Level.choices]
FIELD_LABELS = {"q": "搜索词", "department": "部门", "region": "区划", "level": "层级", "audience": "服务对象", "kind": "事项类型",
                "theme": "主题", "immediate": "马上办", "online": "网上办", "nearby": "就近办", "one_visit": "一次办", "page": "页码"}


def _not_found(request, message="您要查看的事项不存在，或者已经下线。可以回到事项目录重新查找。"):
    return render(request, "web/error.html", {"title": "找不到该页面", "message": message, "status": 404}, status=404)


def _clean_query(params) -> QueryDict:
    """The filters actually set (empty form fields dropped), for pagination and 'remove' links."""
    clean = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        value = (params.get(key) or "").strip()
        if value:
            clean[key] = value
    return clean


def _url_without(query: QueryDict, key: str) -> str:
    q = query.copy()
    q.pop(key, None)
    return "/?" + q.urlencode() if q else "/"


def _active_filters(f: selectors.ItemFilters, query: QueryDict, options: dict) -> list[dict]:
    """The chosen filters as removable chips (已选条件)."""
    chips = []
    if f.department:
        name = next((d["name"] for d in options["departments"] if d["id"] == f.department), f"部门 {f.department}")
        chips.append({"label": f"部门：{name}", "remove": _url_without(query, "department")})
    if f.level:
        chips.append({"label": f"层级：{dict(options['levels'])[f.level]}", "remove": _url_without(query, "level")})
    if f.audience:
        chips.append({"label": f"服务对象：{dict(options['audiences'])[f.audience]}", "remove": _url_without(query, "audience")})
    if f.kind:
        chips.append({"label": f"事项类型：{dict(options['kinds'])[f.kind]}", "remove": _url_without(query, "kind")})
    if f.theme:
        name = next((t["name"] for t in options["themes"] if t["code"] == f.theme), f.theme)
        chips.append({"label": f"主题：{name}", "remove": _url_without(query, "theme")})
    for key, label in FOUR_WAYS:
        value = getattr(f, key)
        if value is not None:
            chips.append({"label": label if value else f"非{label}", "remove": _url_without(query, key)})
    return chips


def home(request):
    """The catalog: search, filters, results; themes and bundles when nothing is searched."""
    options = selectors.filter_options()
    query = _clean_query(request.GET)
    error = error_field = None
    page = None
    try:
        f = selectors.ItemFilters.from_params(request.GET)
        qs = selectors.list_columns(selectors.search_items(f))
        page = selectors.paginate(qs, request.GET.get("page"), PAGE_SIZE, count_with_rows=bool(f.q))
    except ValidationError as exc:
        error = exc.message
        error_field = FIELD_LABELS.get(exc.field or "", "")
        f = selectors.ItemFilters(q=(request.GET.get("q") or "").strip()[:60])
    browsing = error is None and f.is_empty()
    context = {
        "filters": f,
        "page": page,
        "error": error,
        "error_field": error_field,
        "options": options,
        "query": query,
        "active_filters": [] if error else _active_filters(f, query, options),
        "more_filters_open": bool(f.department or f.level or f.kind or f.theme),
        "four_ways": [(key, label, getattr(f, key)) for key, label in FOUR_WAYS],
        "browsing": browsing,
        "bundles": list(Bundle.objects.order_by("id")[:6]) if browsing else [],
        "page_range": list(page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1)) if page is not None else [],
    }
    return render(request, "catalog/home.html", context, status=400 if error else 200)


def _route_steps(route: str) -> list[str]:
    """The route as steps when it reads as a list (lines, arrows, or short parts joined by 、)."""
    parts = [p.strip(" \t。;；") for p in re.split(r"\r?\n|→|->|>", route) if p.strip(" \t。;；")]
    if len(parts) == 1:
        short = [p.strip() for p in parts[0].split("、") if p.strip()]
        if len(short) > 1 and all(len(p) <= 12 for p in short):
            return short
    return parts if len(parts) > 1 else []


def _halls_by_level(halls) -> list[dict]:
    groups = {}
    for hall in halls:
        groups.setdefault(hall.level, []).append(hall)
    labels = dict(Level.choices)
    return [{"level": lv, "label": labels[lv], "halls": groups[lv]} for lv in LEVEL_ORDER if lv in groups]


def guide(request, code):
    """办事指南: the ten unified elements and where, when and how to apply."""
    item = selectors.item_detail(code[:80])
    if item is None:
        return _not_found(request)
    materials = list(item.materials.all())
    labels = dict(Level.choices)
    context = {
        "item": item,
        "materials": materials,
        "material_proofs": [m.proof for m in materials if m.proof_id],
        "proofs": list(item.proofs.all()),
        "route_steps": _route_steps(item.route),
        "hall_groups": _halls_by_level(item.halls.all()),
        "nearby_labels": [labels[lv] for lv in item.nearby_level_list if lv in labels],
        "held_by_bureau": item.department.kind == "approval_bureau" and item.origin_department_id is not None,
        "bundles": list(item.bundles.all()),
        "themes": list(item.themes.all()),
    }
    return render(request, "catalog/guide.html", context)


def proofs(request):
    """保留证明事项清单 (T9): the only proofs an item may ask for."""
    published = selectors.published_items().only("id", "code", "name").order_by("id")
    rows = Proof.objects.filter(is_retained=True).prefetch_related(Prefetch("items", queryset=published, to_attr="published_items"))
    return render(request, "catalog/proofs.html", {"proofs": list(rows)})


def cancelled_proofs(request):
    """已取消证明事项 (T8), with the reason each was cancelled."""
    rows = list(CancelledProof.objects.all())
    counts = {row["reason"]: row["n"] for row in CancelledProof.objects.values("reason").annotate(n=Count("id")).order_by()}
    reasons = [{"code": code, "label": label, "count": counts.get(code, 0)} for code, label in CancelledProof.Reason.choices]
    return render(request, "catalog/cancelled_proofs.html", {"proofs": rows, "reasons": reasons})


def bundles(request):
    """一件事: several items applied for as one."""
    rows = Bundle.objects.annotate(
        item_count=Count("items", filter=Q(items__status=ServiceItem.Status.PUBLISHED), distinct=True)
    ).order_by("id")
    return render(request, "catalog/bundles.html", {"bundles": list(rows)})


def bundle(request, code):
    """One 一件事: its items in order; items of the same parallel group are handled side by side."""
    b = Bundle.objects.filter(code=code[:40]).first()
    if b is None:
        return _not_found(request, "您要查看的“一件事”不存在，或者已经下线。")
    links = (
        BundleItem.objects.filter(bundle=b, item__status=ServiceItem.Status.PUBLISHED)
        .select_related("item__department")
        .defer("item__legal_basis", "item__conditions", "item__route")
        .order_by("order", "id")
    )
    steps: list[dict] = []
    for link in links:
        group = link.parallel_group
        if group and steps and steps[-1]["group"] == group:
            steps[-1]["items"].append(link.item)
        else:
            steps.append({"group": group, "items": [link.item]})
    for n, step in enumerate(steps, start=1):
        step["number"] = n
        step["parallel"] = len(step["items"]) > 1
    total_promised = sum(max(i.promised_days for i in s["items"]) for s in steps)
    return render(request, "catalog/bundle.html", {"bundle": b, "steps": steps, "total_promised": total_promised,
                                                   "item_count": sum(len(s["items"]) for s in steps)})

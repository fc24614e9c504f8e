"""Catalog reads shared by the public pages, the API and the console."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F, Prefetch, Q, QuerySet

from bianmin.core.errors import ValidationError
from bianmin.core.pagination import MAX_PAGE_SIZE, paginate  # noqa: F401  (re-exported for the catalog's callers)
from bianmin.org.models import Department, Level

from . import search
from .models import Audience, ItemKind, Material, OnlineLevel, Proof, ServiceItem, Theme

# ------------------------------------------------------------------------------------ 四办 (T1–T4)
# The one definition of each of the four conditions: a predicate over an item's own values (used by
# ServiceItem's properties, the templates' filters, the KPIs over item versions, exports) and a Q for
# querysets (filters, KPI drill-downs), both from the same constants.

ONLINE_FROM = OnlineLevel.APPLY                 # T2 网上办: 网上申办 (3) and 全程网办 (4)
NEARBY_LEVELS = (Level.TOWN, Level.VILLAGE)     # T3 就近办: applicable at a town (street) or village hall
ONE_VISIT_MAX = 1                               # T4 一次办: at most one visit to a hall


def immediate(is_immediate) -> bool:
    """T1 马上办: the item is flagged 即办 (accepted and finished on the spot)."""
    return bool(is_immediate)


def online(online_level) -> bool:
    """T2 网上办: the item can be applied for online (online level ONLINE_FROM or more)."""
    return int(online_level or 0) >= ONLINE_FROM


def nearby(nearby_levels) -> bool:
    """T3 就近办: the item can be applied for at a town or village hall. `nearby_levels` is the
    stored comma-separated text or a collection of level codes."""
    levels = nearby_levels.split(",") if isinstance(nearby_levels, str) else (nearby_levels or ())
    return any(lv in NEARBY_LEVELS for lv in levels)


def one_visit(max_visits) -> bool:
    """T4 一次办: the item promises at most ONE_VISIT_MAX visit (0: 零跑动)."""
    return int(max_visits) <= ONE_VISIT_MAX


def visits_exceeded(visit_count: int, max_visits: int) -> bool:
    """T4 red flag: a case whose applicant came more often than its item promises."""
    return visit_count > max_visits


def immediate_q(prefix: str = "") -> Q:
    return Q(**{f"{prefix}is_immediate": True})


def online_q(prefix: str = "") -> Q:
    return Q(**{f"{prefix}online_level__gte": ONLINE_FROM})


def nearby_q(prefix: str = "") -> Q:
    q = Q()
    for lv in NEARBY_LEVELS:
        q |= Q(**{f"{prefix}nearby_levels__contains": lv})
    return q


def one_visit_q(prefix: str = "") -> Q:
    return Q(**{f"{prefix}max_visits__lte": ONE_VISIT_MAX})


def visits_exceeded_q(prefix: str = "") -> Q:
    """Cases (prefix "" on Case) whose visits went beyond their item's promise."""
    return Q(**{f"{prefix}visit_count__gt": F(f"{prefix}item__max_visits")})


FOUR_WAYS_Q = {"immediate": immediate_q, "online": online_q, "nearby": nearby_q, "one_visit": one_visit_q}



@dataclass
class ItemFilters:
    """The catalog's filters, validated: what the home page's form and the API's query string carry."""

    q: str = ""
    department: int | None = None
    region: str = ""
    level: str = ""
    audience: str = ""
    kind: str = ""
    theme: str = ""
    immediate: bool | None = None   # 马上办
    online: bool | None = None      # 网上办 (see online())
    nearby: bool | None = None      # 就近办 (see nearby())
    one_visit: bool | None = None   # 一次办 (see one_visit())
    errors: list = field(default_factory=list)

    @classmethod
    def from_params(cls, params) -> "ItemFilters":
        """Parse a QueryDict or dict; an invalid value raises a ValidationError naming the parameter."""
        f = cls()
        get = params.get
        f.q = (get("q") or "").strip()[:search.MAX_QUERY]
        dept = (get("department") or "").strip()
        if dept:
            if not dept.isdigit():
                raise ValidationError(f"部门参数“{dept[:20]}”无效", code="invalid_filter", field="department")
            f.department = int(dept)
        for name, choices in (("level", Level.values), ("audience", [Audience.PERSON, Audience.LEGAL_PERSON]), ("kind", ItemKind.values)):
            value = (get(name) or "").strip()
            if value and value not in choices:
                raise ValidationError(f"筛选条件 {name} 的取值“{value[:20]}”无效", code="invalid_filter", field=name)
            setattr(f, name, value)
        f.theme = (get("theme") or "").strip()[:40]
        f.region = (get("region") or "").strip()[:12]
        if f.region and not f.region.isdigit():
            raise ValidationError(f"区划参数“{f.region}”无效", code="invalid_filter", field="region")
        for name in ("immediate", "online", "nearby", "one_visit"):
            value = (get(name) or "").strip().lower()
            if value in ("1", "true", "on", "yes"):
                setattr(f, name, True)
            elif value in ("0", "false", "no"):
                setattr(f, name, False)
            elif value:
                raise ValidationError(f"筛选条件 {name} 只能是 1 或 0", code="invalid_filter", field=name)
        return f

    def is_empty(self) -> bool:
        return not any([self.q, self.department, self.region, self.level, self.audience, self.kind, self.theme,
                        self.immediate is not None, self.online is not None, self.nearby is not None, self.one_visit is not None])


def published_items() -> QuerySet[ServiceItem]:
    return ServiceItem.objects.filter(status=ServiceItem.Status.PUBLISHED)


def four_ways_q(immediate=None, online=None, nearby=None, one_visit=None) -> Q:
    """The 四办 flags as query conditions (True: meets it, False: does not, None: either)."""
    q = Q()
    for name, wanted in (("immediate", immediate), ("online", online), ("nearby", nearby), ("one_visit", one_visit)):
        if wanted is not None:
            cond = FOUR_WAYS_Q[name]()
            q &= cond if wanted else ~cond
    return q


def search_items(f: ItemFilters, qs: QuerySet[ServiceItem] | None = None) -> QuerySet[ServiceItem]:
    qs = published_items() if qs is None else qs
    if f.department:
        qs = qs.filter(department_id=f.department)
    if f.region:
        qs = qs.filter(region_id__startswith=f.region) if len(f.region) < 6 else qs.filter(region_id=f.region)
    if f.level:
        qs = qs.filter(level=f.level)
    if f.audience:
        qs = qs.filter(audience__in=[f.audience, Audience.BOTH])
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.theme:
        qs = qs.filter(themes__code=f.theme)
    qs = qs.filter(four_ways_q(f.immediate, f.online, f.nearby, f.one_visit))
    if f.q:
        return search.apply(qs, f.q)
    return qs.order_by("department_id", "id")


def list_columns(qs: QuerySet[ServiceItem]) -> QuerySet[ServiceItem]:
    """What a list row shows: the item with its department, in one query."""
    return qs.select_related("department", "region").defer("legal_basis", "conditions", "route")


def item_detail(code: str, *, include_unpublished: bool = False) -> ServiceItem | None:
    qs = ServiceItem.objects.all() if include_unpublished else published_items()
    return (
        qs.select_related("department", "region", "origin_department")
        .prefetch_related(
            Prefetch("materials", queryset=Material.objects.select_related("proof")),
            "halls", "themes", "proofs", "bundles",
        )
        .filter(code=code)
        .first()
    )


def filter_options() -> dict:
    """Everything the catalog's filter form offers, in few queries."""
    return {
        "departments": list(Department.objects.filter(items__status=ServiceItem.Status.PUBLISHED).distinct().order_by("region_id", "id").values("id", "name")),
        "themes": list(Theme.objects.all().values("code", "name")),
        "levels": Level.choices,
        "kinds": ItemKind.choices,
        "audiences": [(Audience.PERSON, "个人办事"), (Audience.LEGAL_PERSON, "法人办事")],
    }


# Applications read the same few items thousands of times a day. An item's row, department, region,
# materials and route change only through catalog.services, which bumps `version` with every write,
# so a copy keyed by (id, version) is never stale for those; entries also expire after a minute so a
# renamed department shows up without a restart. Per process: nothing to share between machines.
_APPLICATION_ITEMS: dict[int, tuple[float, ServiceItem]] = {}
_APPLICATION_ITEM_SECONDS = 60
_CURRENT_VERSION = f"SELECT id, version, updated_at FROM {ServiceItem._meta.db_table} WHERE code = %s AND status = %s"


def item_for_application(code: str) -> ServiceItem | None:
    """The published item with this code, its department, region, materials and route loaded.
    One small indexed query when the process has seen the item's current version."""
    import time

    with connection.cursor() as cur:  # plain SQL: this runs on every submission (codes are unique)
        cur.execute(_CURRENT_VERSION, [code, ServiceItem.Status.PUBLISHED])
        row = cur.fetchone()
    if row is None:
        return None
    pk, version, updated_at = row
    if connection.vendor == "sqlite":  # plain SQL gets SQLite's timestamps without their zone: the ORM's converter
        updated_at = connection.ops.convert_datetimefield_value(updated_at, None, connection)
    now = time.monotonic()
    hit = _APPLICATION_ITEMS.get(pk)
    # updated_at too: a rolled-back test (or a restored backup) can hand the same id and version to another item
    if hit is not None and (hit[1].version, hit[1].updated_at) == (version, updated_at) and now - hit[0] < _APPLICATION_ITEM_SECONDS:
        return hit[1]
    item = (ServiceItem.objects.select_related("region", "department", "origin_department")
            .prefetch_related("materials", "route_steps").filter(pk=pk, version=version).first())
    if item is not None:
        if len(_APPLICATION_ITEMS) > 2000:  # the catalog has a few thousand items at most
            _APPLICATION_ITEMS.clear()
        _APPLICATION_ITEMS[pk] = (now, item)
    return item


# ----------------------------------------------------------------------------- the retained list (T8, T9)

NOT_RETAINED_NOTE = "该证明事项已从保留证明事项清单中取消,不再要求提供"


def off_the_retained_list(materials) -> list[Material]:
    """T9 (保留证明事项清单) and T8 (取消的证明事项): of these catalog materials, the ones that ask for a
    proof no longer on the retained list. Such a proof may not be asked of an applicant: not at
    submission, acceptance, 补正 (request_supplement) or 容缺 (accept_with_pending_materials); the one
    check all four call. Read fresh (a proof may be cancelled while an item is cached): one query, none
    when no material asks for a proof."""
    asking = [m for m in materials if m is not None and m.proof_id]
    if not asking:
        return []
    cancelled = set(Proof.objects.filter(pk__in={m.proof_id for m in asking}, is_retained=False).values_list("pk", flat=True))
    return [m for m in asking if m.proof_id in cancelled]


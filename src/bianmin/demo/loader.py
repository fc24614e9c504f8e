"""Zhanjiang reference data: regions, departments, halls and windows, themes, proofs, items, bundles.

`load_reference_data()` reads the files in `data/` (see data/README.md) and creates what is
missing; it never changes or deletes what is already there, so it is safe to run at every start
(`bianmin run` does) and it does not overwrite what catalog admins have edited since. Keys:
regions by code, departments by USCC (or region + name), halls by name + region, windows by
hall + number, themes and bundles by code, proofs and cancelled proofs by name, items by
implementation code.

Items go through `catalog.services.save_item`, like every other write to the catalog, so each
gets its version, search-index entry and audit record. Everything else is plain reference data
and is written with `bulk_create`.

`ensure_demo_accounts()` creates or refreshes the demo staff accounts (password DEMO_PASSWORD).
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from bianmin.catalog import services as catalog_services
from bianmin.catalog.models import Bundle, BundleItem, CancelledProof, ItemVersion, Proof, ServiceItem, Theme
from bianmin.core import audit
from bianmin.licences import demo as licences_demo
from bianmin.licences.models import LicenceType
from bianmin.org.models import Department, Hall, Level, Region, Role, Staff, Window

DATA = Path(__file__).resolve().parent / "data"
DEMO_PASSWORD = "Bianmin2026!"

# 湛江经济技术开发区: a management zone administering its area alongside the county-level
# governments. It has no GB/T 2260 code; 440891 is a code made up for this project (see README).
DEVZONE_CODE = "440891"
DEVZONE_NAME = "湛江经济技术开发区"
CITY_CODE = "440800"

_LEVEL_RANK = {Level.CITY: 0, Level.COUNTY: 1, Level.TOWN: 2, Level.VILLAGE: 3}

LABELS = [
    ("regions", "区划", "个"), ("departments", "部门", "个"), ("halls", "大厅", "个"), ("windows", "窗口", "个"),
    ("themes", "主题", "个"), ("proofs", "保留证明", "项"), ("cancelled_proofs", "取消证明", "项"),
    ("licence_types", "证照类型", "类"), ("items", "事项", "个"), ("bundles", "一件事", "个"),
]


@dataclass
class Report:
    totals: dict[str, int] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def created_anything(self) -> bool:
        return any(self.created.values())

    def summary(self) -> str:
        parts = []
        for key, label, unit in LABELS:
            text = f"{label} {self.totals.get(key, 0)} {unit}"
            if key == "items":
                text += f"(新增 {self.created.get(key, 0)})"
            parts.append(text)
        line = "参考数据:" + ",".join(parts) + f";用时 {self.seconds:.1f} 秒。"
        if self.created_anything:
            new = "、".join(f"{label} {self.created[key]}" for key, label, _ in LABELS if self.created.get(key))
            return line + "\n本次新增:" + new + "。"
        return line + "\n本次无新增:参考数据已全部载入。"


def _read_json(name: str):
    with open(DATA / name, encoding="utf-8") as fh:
        return json.load(fh)


def _read_csv(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _norm_code(code: str) -> str:
    """The CSV names the city '4408' (and its parent, the province, '44'): store 6 digits."""
    code = code.strip()
    return code + "00" * ((6 - len(code)) // 2) if len(code) < 6 else code


def _item_files() -> list[str]:
    return sorted(p.name for p in DATA.glob("items_*.json"))


# ------------------------------------------------------------------ reference tables

def _load_regions() -> int:
    rows = []
    for r in _read_csv("zhanjiang-divisions.csv"):
        rows.append({"code": _norm_code(r["code"]), "name": r["name"].strip(), "level": r["level"].strip(),
                     "parent": _norm_code(r["parent"]), "is_management_zone": False})
    rows.append({"code": DEVZONE_CODE, "name": DEVZONE_NAME, "level": Level.COUNTY, "parent": CITY_CODE,
                 "is_management_zone": True})
    for r in _read_csv("villages.csv"):
        rows.append({"code": r["code"].strip(), "name": r["name"].strip(), "level": Level.VILLAGE,
                     "parent": r["parent"].strip(), "is_management_zone": False})
    rows.sort(key=lambda r: (_LEVEL_RANK[r["level"]], r["code"]))
    existing = set(Region.objects.values_list("code", flat=True))
    known = existing | {r["code"] for r in rows}
    new = []
    for r in rows:
        if r["code"] in existing:
            continue
        parent = r["parent"] if r["parent"] in known else None  # the province (440000) is not stored
        new.append(Region(code=r["code"], name=r["name"], level=r["level"], parent_id=parent,
                          is_management_zone=r["is_management_zone"]))
    # parents sort before children, so one bulk insert satisfies the foreign keys
    Region.objects.bulk_create(new, batch_size=500)
    return len(new)


def _load_themes() -> int:
    existing = set(Theme.objects.values_list("code", flat=True))
    new = [Theme(**t) for t in _read_json("themes.json") if t["code"] not in existing]
    Theme.objects.bulk_create(new)
    return len(new)


def _load_proofs() -> tuple[int, int]:
    existing = set(Proof.objects.values_list("name", flat=True))
    new = [Proof(is_retained=True, **p) for p in _read_json("proofs.json") if p["name"] not in existing]
    Proof.objects.bulk_create(new)
    existing = set(CancelledProof.objects.values_list("name", flat=True))
    cancelled = [CancelledProof(**p) for p in _read_json("cancelled_proofs.json") if p["name"] not in existing]
    CancelledProof.objects.bulk_create(cancelled)
    return len(new), len(cancelled)


def _load_departments() -> tuple[int, dict[str, Department]]:
    """Returns the number created and the data's departments by name (names are unique in the data)."""
    rows = _read_json("departments.json")
    by_uscc = {d.uscc: d for d in Department.objects.all()}
    by_region_name = {(d.region_id, d.name): d for d in by_uscc.values()}
    new = []
    for r in rows:
        if r["uscc"] in by_uscc or (r["region"], r["name"]) in by_region_name:
            continue
        new.append(Department(
            name=r["name"], short_name=r.get("short_name", ""), uscc=r["uscc"], region_id=r["region"],
            level=r["level"], kind=r.get("kind", Department.Kind.DEPARTMENT), phone=r.get("phone", ""),
            supervision_phone=r.get("supervision_phone", ""), address=r.get("address", ""),
        ))
    Department.objects.bulk_create(new)
    by_uscc = {d.uscc: d for d in Department.objects.filter(uscc__in=[r["uscc"] for r in rows])}
    by_region_name = {(d.region_id, d.name): d for d in Department.objects.filter(name__in=[r["name"] for r in rows])}
    named = {r["name"]: by_uscc.get(r["uscc"]) or by_region_name[(r["region"], r["name"])] for r in rows}
    # 一枚章管审批 (T11): the approval bureau's absorbed departments; add only missing links
    through = Department.absorbed.through
    links = set(through.objects.values_list("from_department_id", "to_department_id"))
    add = []
    for r in rows:
        for other in r.get("absorbed", []):
            pair = (named[r["name"]].pk, named[other].pk)
            if pair not in links:
                add.append(through(from_department_id=pair[0], to_department_id=pair[1]))
    through.objects.bulk_create(add)
    return len(new), named


def _load_halls(depts: dict[str, Department]) -> tuple[int, int, dict[tuple[str, str], Hall]]:
    rows = _read_json("halls.json")
    existing = {(h.name, h.region_id): h for h in Hall.objects.all()}
    new = [Hall(name=r["name"], region_id=r["region"], level=r["level"], kind=r["kind"], address=r.get("address", ""),
                phone=r.get("phone", ""), hours=r.get("hours", ""))
           for r in rows if (r["name"], r["region"]) not in existing]
    Hall.objects.bulk_create(new)
    halls = {(h.name, h.region_id): h for h in Hall.objects.filter(name__in=[r["name"] for r in rows])}
    have = set(Window.objects.filter(hall__in=halls.values()).values_list("hall_id", "number"))
    windows, wanted = [], []
    for r in rows:
        hall = halls[(r["name"], r["region"])]
        for w in r.get("windows", []):
            if (hall.pk, w["number"]) in have:
                continue
            windows.append(Window(hall=hall, number=w["number"], name=w["name"], kind=w["kind"]))
            wanted.append((hall.pk, w["number"], w.get("departments", [])))
    Window.objects.bulk_create(windows)
    if wanted:
        by_key = {(w.hall_id, w.number): w for w in Window.objects.filter(hall__in=halls.values())}
        through = Window.departments.through
        through.objects.bulk_create([through(window_id=by_key[(h, n)].pk, department_id=depts[name].pk)
                                     for h, n, names in wanted for name in names])
    return len(new), len(windows), halls


# ------------------------------------------------------------------ items

@dataclass
class _HallInfo:
    pk: int
    level: str
    kind: str
    lineage: set[str]  # its region's code and every ancestor's
    departments: set[int]


def _hall_infos(halls: dict[tuple[str, str], Hall]) -> list[_HallInfo]:
    parents = dict(Region.objects.values_list("code", "parent_id"))
    by_hall: dict[int, set[int]] = {}
    for hall_id, dept_id in Window.departments.through.objects.filter(window__hall__in=halls.values()).values_list(
            "window__hall_id", "department_id"):
        by_hall.setdefault(hall_id, set()).add(dept_id)
    infos = []
    for hall in halls.values():
        lineage, code = set(), hall.region_id
        while code and code not in lineage:
            lineage.add(code)
            code = parents.get(code)
        infos.append(_HallInfo(hall.pk, hall.level, hall.kind, lineage, by_hall.get(hall.pk, set())))
    return sorted(infos, key=lambda i: i.pk)


def halls_for_item(data: dict, department: Department, region_code: str, infos: list[_HallInfo]) -> list[int]:
    """Where an item can be applied for: every hall whose level is among the item's nearby levels
    and which lies within the item's region. Bank and post outlets take only the items of the
    departments their windows serve and that are for citizens; kiosks take the online-capable items
    for citizens."""
    levels = {x for x in str(data.get("nearby_levels", "")).split(",") if x}
    out = []
    for h in infos:
        if h.level not in levels or region_code not in h.lineage:
            continue
        if h.kind in (Hall.Kind.BANK, Hall.Kind.POST) and (department.pk not in h.departments or data.get("audience") != "person"):
            continue
        if h.kind == Hall.Kind.KIOSK and (int(data.get("online_level", 3)) < 3 or data.get("audience") != "person"):
            continue
        if h.kind == Hall.Kind.MOBILE:
            continue
        out.append(h.pk)
    return out


def _load_items(depts: dict[str, Department], halls: dict[tuple[str, str], Hall]) -> int:
    rows = [row for name in _item_files() for row in _read_json(name)]
    existing = set(ServiceItem.objects.filter(code__in=[r["code"] for r in rows]).values_list("code", flat=True))
    todo = [r for r in rows if r["code"] not in existing]
    if not todo:
        return 0
    infos = _hall_infos(halls)
    for row in todo:
        data = dict(row)
        department = depts[data["department"]]
        data["department"] = department
        if data.get("origin_department"):
            data["origin_department"] = depts[data["origin_department"]]
        region_code = data.get("region") or department.region_id
        data["halls"] = halls_for_item(data, department, region_code, infos)
        catalog_services.save_item(data, actor=None, reason="载入湛江参考数据", action=ItemVersion.Action.IMPORT)
    return len(todo)


def _load_bundles() -> int:
    rows = _read_json("bundles.json")
    existing = {b.code: b for b in Bundle.objects.filter(code__in=[r["code"] for r in rows])}
    new = [Bundle(code=r["code"], name=r["name"], description=r.get("description", ""),
                  audience=r.get("audience", "both"), target_days=r.get("target_days"))
           for r in rows if r["code"] not in existing]
    Bundle.objects.bulk_create(new)
    bundles = {b.code: b for b in Bundle.objects.filter(code__in=[r["code"] for r in rows])}
    items = dict(ServiceItem.objects.filter(code__in=[i["code"] for r in rows for i in r["items"]]).values_list("code", "pk"))
    have = set(BundleItem.objects.filter(bundle__in=bundles.values()).values_list("bundle_id", "item_id"))
    add = []
    for r in rows:
        bundle = bundles[r["code"]]
        for i in r["items"]:
            item_id = items.get(i["code"])
            if item_id is None or (bundle.pk, item_id) in have:
                continue
            add.append(BundleItem(bundle=bundle, item_id=item_id, order=i["order"], parallel_group=i.get("parallel_group", 0)))
    BundleItem.objects.bulk_create(add)
    return len(new)


def _totals() -> dict[str, int]:
    return {
        "regions": Region.objects.count(), "departments": Department.objects.count(), "halls": Hall.objects.count(),
        "windows": Window.objects.count(), "themes": Theme.objects.count(), "proofs": Proof.objects.filter(is_retained=True).count(),
        "cancelled_proofs": CancelledProof.objects.count(),
        "items": ServiceItem.objects.filter(status=ServiceItem.Status.PUBLISHED).count(), "bundles": Bundle.objects.count(),
        "licence_types": LicenceType.objects.count(),
    }


def load_reference_data() -> Report:
    """Create whatever of the reference data is missing, in one transaction. Running it again changes nothing."""
    started = time.monotonic()
    report = Report()
    with transaction.atomic():
        c = report.created
        c["regions"] = _load_regions()
        c["themes"] = _load_themes()
        c["proofs"], c["cancelled_proofs"] = _load_proofs()
        c["departments"], depts = _load_departments()
        c["halls"], c["windows"], halls = _load_halls(depts)
        c["licence_types"] = licences_demo.load_types()  # items name them (result licence, 免提交 materials)
        c["items"] = _load_items(depts, halls)
        c["bundles"] = _load_bundles()
        if report.created_anything:
            audit.record("demo.reference_data.load", actor="system", data=dict(c))
        report.totals = _totals()
    report.seconds = time.monotonic() - started
    return report


# ------------------------------------------------------------------ demo accounts

def _account_label(staff: Staff) -> str:
    role = staff.get_role_display()
    if staff.is_chief_service_officer:
        role += "、首席服务官"
    if staff.role == Role.CLERK and staff.hall_id:
        where = staff.hall.name + (f" {staff.window.name}" if staff.window_id else "")
    else:
        where = staff.department.name
    extra = []
    if staff.is_head:
        extra.append("部门负责人")
    if staff.user.is_superuser:
        extra.append("可登录管理后台")
    return f"{role} · {where}" + (f"({'、'.join(extra)})" if extra else "")


def ensure_demo_accounts() -> list[tuple[str, str]]:
    """Create or refresh the demo staff accounts; all get DEMO_PASSWORD. 'admin' is also a Django superuser."""
    rows = _read_json("staff.json")
    uscc_by_name = {d["name"]: d["uscc"] for d in _read_json("departments.json")}
    if not Department.objects.filter(uscc__in=[uscc_by_name[r["department"]] for r in rows]).exists():
        load_reference_data()
    User = get_user_model()
    password = make_password(DEMO_PASSWORD)  # hashed once: the demo accounts share the one demo password
    out = []
    with transaction.atomic():
        for r in rows:
            department = Department.objects.get(uscc=uscc_by_name[r["department"]])
            hall = window = None
            if r.get("hall"):
                hall = Hall.objects.filter(name=r["hall"]).order_by("id").first()
                if hall and r.get("window"):
                    window = hall.windows.filter(number=r["window"]).first()
            user = User.objects.filter(username=r["username"]).first() or User(username=r["username"])
            user.password = password
            user.first_name = r["name"]
            user.is_active = True
            user.is_superuser = user.is_staff = bool(r.get("superuser"))
            user.save()
            staff, _ = Staff.objects.update_or_create(user=user, defaults={
                "name": r["name"], "department": department, "role": r["role"], "hall": hall, "window": window,
                "is_head": bool(r.get("is_head")), "is_chief_service_officer": bool(r.get("is_chief_service_officer")),
            })
            out.append((user.get_username(), _account_label(staff)))
    return out


DEMO_APPLICANTS = [("citizen", "person", "市民"), ("company", "legal_person", "企业")]


def ensure_demo_applicant_accounts() -> list[tuple[str, str]]:
    """Give the first synthetic person and enterprise of the demo history a login ('citizen',
    'company', password DEMO_PASSWORD), so that 我的办件 and the personal and enterprise pages can be
    seen with real cases, licences and ratings. Run after the history; idempotent."""
    from bianmin.cases.models import Applicant

    User = get_user_model()
    password = make_password(DEMO_PASSWORD)
    out = []
    with transaction.atomic():
        for username, kind, label in DEMO_APPLICANTS:
            user = User.objects.filter(username=username).first()
            applicant = Applicant.objects.filter(user=user).first() if user else None
            if applicant is None:
                applicant = Applicant.objects.filter(kind=kind, user__isnull=True).order_by("id").first()
                if applicant is None:  # no demo history yet
                    continue
            user = user or User(username=username)
            user.password = password
            user.first_name = applicant.name[:150]
            user.is_active = True
            user.save()
            if applicant.user_id != user.pk:
                applicant.user = user
                applicant.save(update_fields=["user"])
            if not applicant.is_verified:  # the demo's holders see their licences (issue 11: verified only)
                from bianmin.cases import identity

                identity.mark_verified(applicant=applicant, method="demo")
            out.append((username, f"{label} · {applicant.name}(我的办件、证照、评价;登录 /account/login/)"))
    return out

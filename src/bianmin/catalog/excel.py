"""The catalog in and out of Excel (.xlsx): what catalog administrators exchange with the province.

Export writes two sheets, 事项 (one row per item) and 申请材料 (one row per material, tied to its item by
实施编码), plus a 填写说明 sheet that the import ignores. Import reads the same layout back:

* Items are matched by 实施编码: an unknown code creates an item, a known one updates it. The code itself
  cannot be changed through Excel (a new code is a new item).
* Every row goes through `services.save_item`, the one place the catalog's rules live; this module only
  parses cells (text, whole numbers, 是/否, names of departments, halls, themes and proofs) into what
  save_item takes, and maps its errors back to sheet, row and column.
* All rows are written in ONE transaction. If any row has an error, nothing is written and a
  `ValidationError(code="import_failed")` lists every error with its place ("事项!第5行", column, message).
  `dry_run=True` checks everything the same way and then rolls back.
* An absent optional column keeps the item's current value (for a new item: the default); a present but
  empty cell means "empty". The 申请材料 sheet is the complete list of each item's materials.
* 状态: a new item is created as a draft and then published or withdrawn as the row says; for an existing
  item a changed 状态 goes through `services.publish_item` / `services.withdraw_item`. A published or
  withdrawn item cannot go back to 草稿. The reason recorded is the optional 变更原因 column, or
  "Excel 导入" (changes), "Excel 导入发布" and "Excel 导入撤回" (status changes) when it is empty.
* Export then import of the same file changes nothing and records no version.

Bad files get a clear Chinese error with a stable code, never a traceback: invalid_file (not an .xlsx,
corrupted, an old .xls), empty_file, file_too_large, missing_sheet, missing_header, duplicate_header,
no_rows, too_many_rows, import_failed.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction
from django.db.models import Count, Prefetch, QuerySet
from django.db.models.functions import Upper

from bianmin.core import xlsx
from bianmin.core.errors import DomainError, ValidationError
from bianmin.core.xlsx import Column, read_upload
from bianmin.org.models import Department, Hall, Level

from . import services
from .models import Audience, ItemKind, Material, Proof, ServiceItem, Theme

log = logging.getLogger(__name__)

ITEM_SHEET = "事项"
MATERIAL_SHEET = "申请材料"
HELP_SHEET = "填写说明"

MAX_ITEM_ROWS = 20_000
MAX_MATERIAL_ROWS = 100_000
EXPORT_CHUNK = 500

STATUS_LABELS = {label: code for code, label in ServiceItem.Status.choices}
LEVEL_LABELS = dict(Level.choices)
LIST_SPLIT = re.compile(r"[、,,;;\s]+")
LINE_SPLIT = re.compile(r"[\n;;]+")

DEFAULT_REASON = "Excel 导入"
PUBLISH_REASON = "Excel 导入发布"
WITHDRAW_REASON = "Excel 导入撤回"


ITEM_COLUMNS = [
    Column("事项名称", "name", width=30, required=True),
    Column("基本编码", "basic_code", width=20, required=True),
    Column("实施编码", "code", width=44, required=True, note="事项的唯一标识:已有编码则更新该事项,新编码则新建"),
    Column("事项类型", "kind", "choice", 12, True, " / ".join(ItemKind.labels)),
    Column("设定依据", "legal_basis", width=40, required=True),
    Column("实施主体", "department", "department", 28, True, "部门全称或统一社会信用代码"),
    Column("原业务主管部门", "origin_department", "department", 24, note="由行政审批局集中办理时填写;部门全称或统一社会信用代码"),
    Column("实施区划", "region", "region", 14, note="12 位以内的区划代码,例如 440800;留空则取实施主体所在区划"),
    Column("层级", "level", "choice", 12, True, " / ".join(Level.labels)),
    Column("服务对象", "audience", "choice", 14, True, " / ".join(Audience.labels)),
    Column("受理条件", "conditions", width=40, required=True),
    Column("办理流程", "route", width=30, required=True),
    Column("法定时限", "statutory_days", "int", 10, True, "工作日,整数"),
    Column("承诺时限", "promised_days", "int", 10, True, "工作日,整数,不超过法定时限;即办件填 0"),
    Column("收费标准", "fees", width=20, note="留空即“不收费”"),
    Column("收费金额(分)", "fee_fen", "int", 12, note="整数,单位为分;留空为 0"),
    Column("即办件", "is_immediate", "bool", 8, note="是 / 否"),
    Column("网办深度", "online_level", "int", 10, note="0 不可网办、1 网上咨询、2 表格下载、3 网上申办、4 全程网办"),
    Column("就近可办层级", "nearby_levels", "levels", 18, note="市级、县级、镇(街道)级、村(社区)级,多个用、分隔"),
    Column("到现场次数", "max_visits", "int", 10, note="整数,0 表示零跑动"),
    Column("主题", "themes", "themes", 18, note="主题代码或名称,多个用、分隔"),
    Column("可申办大厅", "halls", "halls", 24, note="大厅名称(重名时填大厅编号),每行一个"),
    Column("所需证明", "proofs", "proofs", 24, note="保留证明事项清单中的证明名称,每行一个"),
    Column("办理结果", "result_name", width=20),
    Column("结果证照类型", "result_licence_type", width=14, note="电子证照类型代码"),
    Column("办理地点", "location", width=30),
    Column("办理时间", "hours", width=24),
    Column("咨询电话", "phone", width=16),
    Column("监督电话", "supervision_phone", width=16),
    Column("状态", "status", "status", 10, note="草稿、已发布、已撤回;新事项留空为草稿,已有事项留空则不改变"),
    Column("变更原因", "reason", "reason", 24, note="仅导入时使用,记入事项版本;留空记为“Excel 导入”"),
]

MATERIAL_COLUMNS = [
    Column("实施编码", "item_code", width=44, required=True, note="对应“事项”表中的实施编码"),
    Column("材料名称", "name", width=30, required=True),
    Column("说明", "description", width=30),
    Column("材料形式", "form", "choice", 12, note=" / ".join(Material.Form.labels) + ";留空为原件"),
    Column("份数", "copies", "int", 8, note="整数,留空为 1"),
    Column("必要", "required", "bool", 8, note="是 / 否;留空为是"),
    Column("可容缺", "pending_allowed", "bool", 8, note="是 / 否;只有必要材料可以容缺后补"),
    Column("可告知承诺", "commitment_allowed", "bool", 10, note="是 / 否"),
    Column("电子证照替代", "satisfied_by", width=14, note="可替代该材料的电子证照类型代码"),
    Column("对应证明", "proof", "proofs", 24, note="保留证明事项清单中的证明名称"),
]

ITEM_HEADERS = {c.field: c.header for c in ITEM_COLUMNS}
MATERIAL_HEADERS = {c.field: c.header for c in MATERIAL_COLUMNS}
TEXT_FIELDS = set(services.TEXT_FIELDS)


# ---------------------------------------------------------------------------------------------- export

_yes_no = xlsx.yes_no_word


def _department_cell(dept: Department | None, ambiguous: set[str]) -> str:
    if dept is None:
        return ""
    return dept.uscc if dept.name in ambiguous else dept.name


def item_row(item: ServiceItem, ambiguous_names: set[str] = frozenset()) -> dict[str, object]:
    """An item as the 事项 sheet shows it, keyed by field. Needs halls, themes, proofs prefetched."""
    row: dict[str, object] = {f: getattr(item, f) for f in services.TEXT_FIELDS}
    row.update({
        "kind": item.get_kind_display(),
        "department": _department_cell(item.department, ambiguous_names),
        "origin_department": _department_cell(item.origin_department, ambiguous_names),
        "region": item.region_id,
        "level": item.get_level_display(),
        "audience": item.get_audience_display(),
        "statutory_days": item.statutory_days,
        "promised_days": item.promised_days,
        "fee_fen": item.fee_fen,
        "is_immediate": _yes_no(item.is_immediate),
        "online_level": item.online_level,
        "nearby_levels": "、".join(LEVEL_LABELS.get(x, x) for x in item.nearby_level_list),
        "max_visits": item.max_visits,
        "themes": "、".join(t.code for t in item.themes.all()),
        "halls": "\n".join(h.name for h in item.halls.all()),
        "proofs": "\n".join(p.name for p in item.proofs.all()),
        "status": item.get_status_display(),
        "reason": "",
    })
    return row


def material_row(item: ServiceItem, m: Material) -> dict[str, object]:
    return {
        "item_code": item.code, "name": m.name, "description": m.description, "form": m.get_form_display(),
        "copies": m.copies, "required": _yes_no(m.required), "pending_allowed": _yes_no(m.pending_allowed),
        "commitment_allowed": _yes_no(m.commitment_allowed), "satisfied_by": m.satisfied_by,
        "proof": m.proof.name if m.proof_id else "",
    }


def _ambiguous_department_names() -> set[str]:
    return set(Department.objects.values("name").annotate(n=Count("id")).filter(n__gt=1).values_list("name", flat=True))


def _with_relations(qs: QuerySet[ServiceItem]) -> QuerySet[ServiceItem]:
    return qs.select_related("department", "origin_department").prefetch_related(
        "halls", "themes", "proofs", Prefetch("materials", queryset=Material.objects.select_related("proof")),
    )


def export_catalog(fh, qs: QuerySet[ServiceItem] | None = None) -> int:
    """Write the items (all statuses, or the queryset given) to `fh` as .xlsx; return how many."""
    from openpyxl import Workbook

    qs = ServiceItem.objects.all() if qs is None else qs
    ids = list(qs.order_by("id").values_list("id", flat=True).distinct())
    ambiguous = _ambiguous_department_names()

    wb = Workbook(write_only=True)
    items_ws = xlsx.add_sheet(wb, ITEM_SHEET, ITEM_COLUMNS, freeze="B2")
    materials: list[dict] = []
    for start in range(0, len(ids), EXPORT_CHUNK):
        chunk = ids[start:start + EXPORT_CHUNK]
        for item in _with_relations(ServiceItem.objects.filter(pk__in=chunk)).order_by("id"):
            xlsx.append_row(items_ws, ITEM_COLUMNS, item_row(item, ambiguous))
            materials.extend(material_row(item, m) for m in item.materials.all())
    if ids:
        items_ws.auto_filter.ref = f"A1:{_letter(len(ITEM_COLUMNS))}{len(ids) + 1}"
    materials_ws = xlsx.add_sheet(wb, MATERIAL_SHEET, MATERIAL_COLUMNS, freeze="A2")
    for row in materials:
        xlsx.append_row(materials_ws, MATERIAL_COLUMNS, row)

    help_ws = wb.create_sheet(HELP_SHEET)
    help_ws.column_dimensions["A"].width = 12
    help_ws.column_dimensions["B"].width = 18
    help_ws.column_dimensions["C"].width = 80
    help_ws.append(["工作表", "列", "填写要求"])
    for sheet, columns in ((ITEM_SHEET, ITEM_COLUMNS), (MATERIAL_SHEET, MATERIAL_COLUMNS)):
        for col in columns:
            help_ws.append([sheet, col.header, ("必填。" if col.required else "") + col.note])
    help_ws.append([])
    for line in (
        "按“实施编码”匹配:已有的事项更新,新的编码新建事项。",
        "任一行有误则整个文件都不导入,并逐行列出错误;改正后重新导入即可。",
        "“申请材料”表列出每个事项的全部材料,按行的先后排序;导入后事项的材料与表中一致。",
        f"每个文件最多 {MAX_ITEM_ROWS} 个事项、{MAX_MATERIAL_ROWS} 条材料,文件不超过 {xlsx.MAX_FILE_BYTES // 1024 // 1024} MB。",
    ):
        help_ws.append(["", "", line])
    wb.save(fh)
    return len(ids)


def _letter(n: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(n)


# ---------------------------------------------------------------------------------------------- import

@dataclass
class ImportResult:
    dry_run: bool = False
    created_codes: list[str] = field(default_factory=list)
    updated_codes: list[str] = field(default_factory=list)
    unchanged_codes: list[str] = field(default_factory=list)
    published_codes: list[str] = field(default_factory=list)
    withdrawn_codes: list[str] = field(default_factory=list)
    materials: int = 0

    @property
    def created(self) -> int:
        return len(self.created_codes)

    @property
    def updated(self) -> int:
        return len(self.updated_codes)

    @property
    def unchanged(self) -> int:
        return len(self.unchanged_codes)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self) -> str:
        extra = ""
        if self.published_codes or self.withdrawn_codes:
            extra = f"其中发布 {len(self.published_codes)} 个、撤回 {len(self.withdrawn_codes)} 个。"
        if self.dry_run:
            return (f"检查通过(未写入任何数据):共 {self.total} 个事项、{self.materials} 条申请材料,"
                    f"导入后将新建 {self.created} 个、更新 {self.updated} 个、{self.unchanged} 个不变。{extra}")
        return (f"导入完成:共 {self.total} 个事项、{self.materials} 条申请材料,"
                f"新建 {self.created} 个、更新 {self.updated} 个、{self.unchanged} 个不变。{extra}")


class _Rollback(Exception):
    pass


def _fail(message: str, code: str, **kw) -> ValidationError:
    return ValidationError(message, code=code, **kw)


class _Refs:
    """Departments, halls, themes and proofs by the names people type; loaded once per import."""

    def __init__(self):
        self.depts_by_name: dict[str, list[Department]] = defaultdict(list)
        self.depts_by_uscc: dict[str, Department] = {}
        for d in Department.objects.all():
            self.depts_by_name[d.name].append(d)
            self.depts_by_uscc[d.uscc.upper()] = d
        self.halls_by_name: dict[str, list[int]] = defaultdict(list)
        self.hall_ids: set[int] = set()
        for pk, name in Hall.objects.values_list("pk", "name"):
            self.halls_by_name[name].append(pk)
            self.hall_ids.add(pk)
        self.theme_codes: set[str] = set()
        self.themes_by_name: dict[str, list[str]] = defaultdict(list)
        for code, name in Theme.objects.values_list("code", "name"):
            self.theme_codes.add(code)
            self.themes_by_name[name].append(code)
        self.proofs_by_name: dict[str, Proof] = {}
        for p in Proof.objects.order_by("-is_retained", "id"):  # a retained proof wins over a cancelled namesake
            self.proofs_by_name.setdefault(p.name, p)

    def department(self, value):
        """A department by USCC or unique name; anything else goes to save_item as typed, which
        reports an unknown name, or a name two regions share (then the USCC is needed)."""
        text = xlsx.text(value)
        found = self.depts_by_uscc.get(text.upper())
        if found is None and len(self.depts_by_name.get(text, [])) == 1:
            found = self.depts_by_name[text][0]
        return found or text

    def themes(self, value) -> list[str]:
        out = []
        for token in LIST_SPLIT.split(xlsx.text(value)):
            if not token:
                continue
            if token not in self.theme_codes and len(self.themes_by_name.get(token, [])) == 1:
                token = self.themes_by_name[token][0]
            out.append(token)
        return out

    def halls(self, value) -> list[int]:
        out = []
        for token in (t.strip() for t in LINE_SPLIT.split(xlsx.text(value))):
            if not token:
                continue
            ids = self.halls_by_name.get(token, [])
            if len(ids) == 1:
                out.append(ids[0])
            elif len(ids) > 1:
                raise xlsx.CellError(f"有多个大厅叫“{token}”,请改填大厅编号", "ambiguous_hall")
            elif token.isdigit() and int(token) in self.hall_ids:
                out.append(int(token))
            else:
                raise xlsx.CellError(f"找不到大厅“{token}”", "unknown_hall")
        return out

    def proofs(self, value) -> list:
        return [self.proofs_by_name.get(t, t) for t in (t.strip() for t in LINE_SPLIT.split(xlsx.text(value))) if t]


def _same_text(new: str, old: str) -> bool:
    """Excel stores line breaks as \\n: a text that differs from the stored one only in \\r\\n is unchanged."""
    return new.replace("\r\n", "\n").replace("\r", "\n") == (old or "").replace("\r\n", "\n").replace("\r", "\n")


def _existing_data(item: ServiceItem) -> dict[str, object]:
    """An item as save_item's input, from its current values: what a column the file lacks keeps.
    Needs halls, themes and proofs prefetched."""
    data: dict[str, object] = {f: getattr(item, f) for f in services.TEXT_FIELDS}
    data.update({
        "kind": item.kind, "department": item.department, "origin_department": item.origin_department or "",
        "region": item.region_id, "level": item.level, "audience": item.audience,
        "statutory_days": item.statutory_days, "promised_days": item.promised_days, "fee_fen": item.fee_fen,
        "is_immediate": item.is_immediate, "online_level": item.online_level, "nearby_levels": item.nearby_levels,
        "max_visits": item.max_visits, "themes": [t.code for t in item.themes.all()],
        "halls": [h.pk for h in item.halls.all()], "proofs": list(item.proofs.all()),
    })
    return data


def _parse_item(row: xlsx.Row, refs: _Refs, existing: ServiceItem | None, errors: list[dict]) -> tuple[dict, str | None, str]:
    """A 事项 row as save_item's input. Returns (data, wanted status or None, reason)."""
    data = _existing_data(existing) if existing is not None else {}
    status = None
    reason = ""
    for col in ITEM_COLUMNS:
        if col.field not in row.values:
            continue
        value = row.values[col.field]
        try:
            if col.kind == "department":
                data[col.field] = refs.department(value)
            elif col.kind in ("int", "bool"):
                if xlsx.is_blank(value):
                    data.pop(col.field, None)  # empty: save_item's default (or its "不能为空")
                else:
                    data[col.field] = xlsx.integer(value) if col.kind == "int" else xlsx.boolean(value)
            elif col.kind == "themes":
                data[col.field] = refs.themes(value)
            elif col.kind == "halls":
                data[col.field] = refs.halls(value)
            elif col.kind == "proofs":
                data[col.field] = refs.proofs(value)
            elif col.kind == "status":
                text = xlsx.text(value)
                if text:
                    status = STATUS_LABELS.get(text, text if text in ServiceItem.Status.values else None)
                    if status is None:
                        raise xlsx.CellError(f"“{text[:20]}”不是有效的状态(草稿、已发布、已撤回)", "invalid_choice")
            elif col.kind == "reason":
                reason = xlsx.text(value)[:300]
            else:  # text, choice, region, levels: save_item parses them
                text = xlsx.text(value)
                if existing is not None and col.field in TEXT_FIELDS and _same_text(text, getattr(existing, col.field)):
                    text = getattr(existing, col.field)
                data[col.field] = text
        except xlsx.CellError as exc:
            data.pop(col.field, None)
            errors.append(xlsx.error_entry(row, col.field, ITEM_HEADERS, exc.message, exc.code))
    return data, status, reason


def _parse_material(row: xlsx.Row, refs: _Refs, errors: list[dict]) -> dict:
    data: dict[str, object] = {}
    for col in MATERIAL_COLUMNS[1:]:
        if col.field not in row.values:
            continue
        value = row.values[col.field]
        try:
            if col.kind == "bool":
                if not xlsx.is_blank(value):
                    data[col.field] = xlsx.boolean(value)
            elif col.kind == "int":
                if not xlsx.is_blank(value):
                    data[col.field] = xlsx.integer(value)
            elif col.kind == "proofs":
                found = refs.proofs(value)
                if len(found) > 1:
                    raise xlsx.CellError("每条材料只能对应一项证明", "invalid")
                data[col.field] = found[0] if found else None
            else:
                data[col.field] = xlsx.text(value)
        except xlsx.CellError as exc:
            errors.append(xlsx.error_entry(row, col.field, MATERIAL_HEADERS, exc.message, exc.code))
    return data


_MATERIAL_ERROR_COLUMN = {"required": "name", "too_long": "name", "invalid_choice": "form",
                          "pending_not_required": "pending_allowed", "not_integer": "copies"}


def _service_errors(exc: DomainError, row: xlsx.Row, materials: list[tuple[xlsx.Row, dict]], errors: list[dict]) -> None:
    """Place each of save_item's errors on the sheet, row and column it came from."""
    details = exc.details or [{"field": exc.field, "code": exc.code, "message": exc.message}]
    for d in details:
        fname = d.get("field")
        code = d.get("code") or exc.code
        message = str(d.get("message") or exc.message)
        label = services.FIELD_LABELS.get(fname or "", "")
        if label and message.startswith(label + ":"):
            message = message[len(label) + 1:]
        if fname is None and code in ("other_department", "not_catalog_admin", "forbidden"):
            fname = "department"
        elif fname is None and code == "no_materials":
            fname = "status"
        target = None
        if fname == "materials":
            m = re.search(r"第 (\d+) 项", message)
            if m and 0 < int(m.group(1)) <= len(materials):
                target = materials[int(m.group(1)) - 1][0]
            else:
                m = re.search(r"“(.+?)”", message)
                if m:
                    target = next((r for r, md in materials if md.get("name") == m.group(1)), None)
            if target is not None:
                errors.append(xlsx.error_entry(target, _MATERIAL_ERROR_COLUMN.get(code, "name"), MATERIAL_HEADERS, message, code))
                continue
        if fname == "proofs":
            m = re.search(r"“(.+?)”", message)
            if m:
                target = next((r for r, md in materials if xlsx.text(r.values.get("proof")) == m.group(1)), None)
            if target is not None:
                errors.append(xlsx.error_entry(target, "proof", MATERIAL_HEADERS, message, code))
                continue
        errors.append(xlsx.error_entry(row, fname if fname in ITEM_HEADERS else None, ITEM_HEADERS,
                              message if fname in ITEM_HEADERS else (f"{label}:{message}" if label else message), code))


def _rows_with_errors(errors: list[dict]) -> int:
    return len({(e["sheet"], e["line"]) for e in errors})


def _locked_items(keys: list[str]) -> dict[str, ServiceItem]:
    """The existing items the file names, by upper-cased code (save_item stores codes upper-cased;
    matching ignores case either way), locked for the rest of the import."""
    found: dict[str, ServiceItem] = {}
    for start in range(0, len(keys), EXPORT_CHUNK):
        chunk = keys[start:start + EXPORT_CHUNK]
        qs = _with_relations(ServiceItem.objects.annotate(code_key=Upper("code")).filter(code_key__in=chunk))
        found.update({i.code.upper(): i for i in qs.select_for_update(of=("self",))})
    return found


def import_catalog(fh, actor=None, dry_run: bool = False) -> ImportResult:
    """Import the catalog from an .xlsx file object: all rows or none. See the module's docstring."""
    data = read_upload(fh)
    wb = xlsx.open_workbook(data)
    try:
        item_rows = xlsx.read_sheet(wb, ITEM_SHEET, ITEM_COLUMNS, MAX_ITEM_ROWS, key_header="实施编码")
        material_rows = xlsx.read_sheet(wb, MATERIAL_SHEET, MATERIAL_COLUMNS, MAX_MATERIAL_ROWS, key_header="实施编码")
    finally:
        try:
            wb.close()
        except Exception:  # noqa: BLE001
            pass
    if not item_rows:
        raise _fail("“事项”表中没有任何事项行", "no_rows")

    errors: list[dict] = []
    refs = _Refs()

    # Which rows are which items: codes must be unique within the file.
    first_line: dict[str, int] = {}
    rows_by_code: list[tuple[str, xlsx.Row]] = []
    for row in item_rows:
        code = xlsx.text(row.values.get("code"))
        key = code.upper()
        if key in first_line:
            errors.append(xlsx.error_entry(row, "code", ITEM_HEADERS, f"实施编码“{code}”与第 {first_line[key]} 行重复", "duplicate_in_file"))
            continue
        if key:
            first_line[key] = row.line
        rows_by_code.append((key, row))
    materials_by_code: dict[str, list[tuple[xlsx.Row, dict]]] = defaultdict(list)
    for row in material_rows:
        code = xlsx.text(row.values.get("item_code"))
        if not code:
            errors.append(xlsx.error_entry(row, "item_code", MATERIAL_HEADERS, "不能为空", "required"))
        elif code.upper() not in first_line:
            errors.append(xlsx.error_entry(row, "item_code", MATERIAL_HEADERS, f"“{code}”不在“事项”表中", "unknown_item"))
        else:
            materials_by_code[code.upper()].append((row, _parse_material(row, refs, errors)))

    result = ImportResult(dry_run=dry_run)
    try:
        with transaction.atomic():
            existing = _locked_items([c for c, _ in rows_by_code if c])
            for key, row in rows_by_code:
                _import_row(row, existing.get(key), materials_by_code.get(key, []), refs, actor, errors, result)
            if errors or dry_run:
                raise _Rollback
    except _Rollback:
        pass
    if errors:
        errors.sort(key=lambda e: (0 if e["sheet"] == ITEM_SHEET else 1, e["line"]))
        n = _rows_with_errors(errors)
        raise ValidationError(f"导入失败:共 {n} 行有误,未导入任何事项", code="import_failed", details=errors)
    return result


def _import_row(row, item, materials, refs, actor, errors, result) -> None:
    parse_errors: list[dict] = []
    data, status, reason = _parse_item(row, refs, item, parse_errors)
    mats = [m for _, m in materials]
    if item is not None:
        # keep stored text whose only difference is Excel's line breaks
        for new, old in zip(mats, item.materials.all()):
            for key in ("name", "description"):
                if isinstance(new.get(key), str) and _same_text(new[key], getattr(old, key)):
                    new[key] = getattr(old, key)
    data["materials"] = mats
    errors.extend(parse_errors)
    if item is not None and status == ServiceItem.Status.DRAFT and item.status != ServiceItem.Status.DRAFT:
        errors.append(xlsx.error_entry(row, "status", ITEM_HEADERS, f"“{item.get_status_display()}”的事项不能改回草稿;如需下线请填“已撤回”", "invalid_transition"))
    # save_item still checks the rest of the row; what it says about cells that failed to parse is dropped.
    reported = {e["field"] for e in parse_errors if e["line"] == row.line and e["sheet"] == row.sheet}

    before_version = item.version if item is not None else 0
    try:
        with transaction.atomic():
            if item is not None:
                item._prefetched_objects_cache = {}  # save_item reads the relations before and after its writes
            saved = services.save_item(data, actor=actor, item=item, reason=reason or DEFAULT_REASON, action="import")
            if status and status != saved.status:
                if status == ServiceItem.Status.PUBLISHED:
                    saved = services.publish_item(saved, actor=actor, reason=reason or PUBLISH_REASON)
                    result.published_codes.append(saved.code)
                elif status == ServiceItem.Status.WITHDRAWN:
                    saved = services.withdraw_item(saved, actor=actor, reason=reason or WITHDRAW_REASON)
                    result.withdrawn_codes.append(saved.code)
    except DomainError as exc:
        new_errors: list[dict] = []
        _service_errors(exc, row, materials, new_errors)
        errors.extend(e for e in new_errors if not (e["line"] == row.line and e["sheet"] == row.sheet and e["field"] in reported and e["field"]))
        return
    except DatabaseError as exc:
        log.warning("excel import row %s refused by the database: %r", row.where(), exc)
        errors.append(xlsx.error_entry(row, None, ITEM_HEADERS, "数据库拒绝保存这一行,请检查内容是否过长或格式异常", "database_error"))
        return
    result.materials += len(mats)
    if item is None:
        result.created_codes.append(saved.code)
    elif saved.version != before_version:
        result.updated_codes.append(saved.code)
    else:
        result.unchanged_codes.append(saved.code)

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

import datetime as dt
import io
import logging
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction
from django.db.models import Count, Prefetch, QuerySet
from django.db.models.functions import Upper

from bianmin.core.errors import DomainError, ValidationError
from bianmin.org.models import Department, Hall, Level

from . import services
from .models import Audience, ItemKind, Material, Proof, ServiceItem, Theme

log = logging.getLogger(__name__)

ITEM_SHEET = "事项"
MATERIAL_SHEET = "申请材料"
HELP_SHEET = "填写说明"

MAX_FILE_BYTES = 10 * 1024 * 1024          # the upload itself
MAX_UNCOMPRESSED_BYTES = 300 * 1024 * 1024  # what the zip may unpack to (zip bombs)
MAX_ITEM_ROWS = 20_000
MAX_MATERIAL_ROWS = 100_000
MAX_SCANNED_ROWS = 250_000                  # rows looked at, blank ones included
MAX_COLUMNS = 80
HEADER_SEARCH_ROWS = 5                      # the header may sit below a title row or two
EXPORT_CHUNK = 500

YES = {"是", "y", "yes", "true", "1", "√", "✓", "on", "有"}
NO = {"否", "n", "no", "false", "0", "×", "✗", "off", "无", "不是"}
STATUS_LABELS = {label: code for code, label in ServiceItem.Status.choices}
LEVEL_LABELS = dict(Level.choices)
LIST_SPLIT = re.compile(r"[、,,;;\s]+")
LINE_SPLIT = re.compile(r"[\n;;]+")
ILLEGAL_XML = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")

DEFAULT_REASON = "Excel 导入"
PUBLISH_REASON = "Excel 导入发布"
WITHDRAW_REASON = "Excel 导入撤回"


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    kind: str = "text"   # text, int, bool, choice, status, department, region, levels, themes, halls, proofs, reason
    width: int = 14
    required: bool = False
    note: str = ""


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

def _safe(value):
    """Text as a cell takes it: control characters that XML cannot hold are dropped."""
    if isinstance(value, str):
        return ILLEGAL_XML.sub("", value)
    return value


def _yes_no(value: bool) -> str:
    return "是" if value else "否"


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


def _sheet(wb, title, columns):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    ws.freeze_panes = "B2" if columns[0].field != "item_code" else "A2"
    for i, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = col.width
    header = []
    for col in columns:
        cell = WriteOnlyCell(ws, value=col.header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE6F0")
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        header.append(cell)
    ws.append(header)
    return ws


def _append(ws, columns, row: dict):
    from openpyxl.cell import WriteOnlyCell

    cells = []
    for col in columns:
        value = _safe(row.get(col.field))
        if isinstance(value, str):
            # Force text: a value that starts with "=" must stay text, never become a formula.
            cell = WriteOnlyCell(ws, value=value)
            cell.data_type = "s"
            cells.append(cell)
        else:
            cells.append(value)
    ws.append(cells)


def export_catalog(fh, qs: QuerySet[ServiceItem] | None = None) -> int:
    """Write the items (all statuses, or the queryset given) to `fh` as .xlsx; return how many."""
    from openpyxl import Workbook

    qs = ServiceItem.objects.all() if qs is None else qs
    ids = list(qs.order_by("id").values_list("id", flat=True).distinct())
    ambiguous = _ambiguous_department_names()

    wb = Workbook(write_only=True)
    items_ws = _sheet(wb, ITEM_SHEET, ITEM_COLUMNS)
    materials: list[dict] = []
    for start in range(0, len(ids), EXPORT_CHUNK):
        chunk = ids[start:start + EXPORT_CHUNK]
        for item in _with_relations(ServiceItem.objects.filter(pk__in=chunk)).order_by("id"):
            _append(items_ws, ITEM_COLUMNS, item_row(item, ambiguous))
            materials.extend(material_row(item, m) for m in item.materials.all())
    if ids:
        items_ws.auto_filter.ref = f"A1:{_letter(len(ITEM_COLUMNS))}{len(ids) + 1}"
    materials_ws = _sheet(wb, MATERIAL_SHEET, MATERIAL_COLUMNS)
    for row in materials:
        _append(materials_ws, MATERIAL_COLUMNS, row)

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
        f"每个文件最多 {MAX_ITEM_ROWS} 个事项、{MAX_MATERIAL_ROWS} 条材料,文件不超过 {MAX_FILE_BYTES // 1024 // 1024} MB。",
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


@dataclass
class _Row:
    sheet: str
    line: int
    values: dict[str, object]          # field -> raw cell value, only for the columns present
    letters: dict[str, str]            # field -> column letter

    def where(self) -> str:
        return f"{self.sheet}!第{self.line}行"


class _Rollback(Exception):
    pass


def _fail(message: str, code: str, **kw) -> ValidationError:
    return ValidationError(message, code=code, **kw)


def read_upload(fh) -> bytes:
    """The file's bytes, after the checks any upload gets: size, emptiness, and that it is really an .xlsx (zip)."""
    try:
        if hasattr(fh, "seek"):
            try:
                fh.seek(0)
            except Exception:  # noqa: BLE001 - unseekable streams are read as they are
                pass
        data = fh.read(MAX_FILE_BYTES + 1)
    except Exception as exc:  # noqa: BLE001 - an unreadable upload is the user's problem, not a 500
        log.info("excel upload unreadable: %r", exc)
        raise _fail("无法读取上传的文件", "invalid_file") from None
    if isinstance(data, str):
        raise _fail("文件应以二进制方式打开(.xlsx)", "invalid_file")
    if not data:
        raise _fail("文件是空的,请选择导出的 .xlsx 文件", "empty_file")
    if len(data) > MAX_FILE_BYTES:
        raise _fail(f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB,请拆分后分批导入", "file_too_large")
    check_xlsx_bytes(data)
    return data


def check_magic(head: bytes) -> None:
    """The first bytes of an .xlsx are a zip's (PK\\x03\\x04), whatever the file is called."""
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _fail("这是旧版 Excel(.xls)或加密的文件,请在 Excel 中“另存为” .xlsx(不设密码)后再导入", "invalid_file")
    if head[:4] != b"PK\x03\x04":
        raise _fail("文件不是 Excel 工作簿(.xlsx):请上传由本系统导出或 Excel 保存的 .xlsx 文件,不要只改扩展名", "invalid_file")


def check_xlsx_bytes(data: bytes) -> None:
    """By content, not by name: an .xlsx is a zip holding xl/workbook.xml."""
    check_magic(data[:8])
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise _fail("文件已损坏,无法作为 .xlsx 打开", "invalid_file") from None
    names = {i.filename.lower() for i in infos}
    if "xl/workbook.xml" not in names or "[content_types].xml" not in names:
        raise _fail("这是压缩文件但不是 Excel 工作簿(.xlsx)", "invalid_file")
    if sum(i.file_size for i in infos) > MAX_UNCOMPRESSED_BYTES or len(infos) > 10_000:
        raise _fail("文件解压后过大,请拆分后分批导入", "file_too_large")


def _open_workbook(data: bytes):
    from openpyxl import load_workbook

    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds; all mean "cannot read this file"
        log.info("excel workbook unreadable: %r", exc)
        raise _fail("无法读取 Excel 文件:文件已损坏或不是 .xlsx 格式", "invalid_file") from None


def _norm_header(value) -> str:
    if value is None:
        return ""
    return re.sub(r"\s+", "", str(value)).replace("(", "(").replace(")", ")")


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_sheet(wb, title: str, columns: list[Column], max_rows: int, key_header: str = "实施编码") -> list[_Row]:
    """The sheet's data rows. The header row is the first of the top HEADER_SEARCH_ROWS rows holding
    `key_header` (licences/excel.py reads its own sheet with another key column)."""
    from openpyxl.utils import get_column_letter

    if title not in wb.sheetnames:
        others = "、".join(f"“{n}”" for n in wb.sheetnames) or "无"
        raise _fail(f"文件中没有名为“{title}”的工作表(现有工作表:{others})。请使用导出的文件作为模板", "missing_sheet")
    ws = wb[title]
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # do not trust the file's own idea of its size
    by_header = {_norm_header(c.header): c for c in columns}
    index: dict[str, int] | None = None
    rows: list[_Row] = []
    letters: dict[str, str] = {}
    try:
        for line, cells in enumerate(ws.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
            if line > MAX_SCANNED_ROWS:
                raise _fail(f"工作表“{title}”超过 {MAX_SCANNED_ROWS} 行,请拆分后分批导入", "too_many_rows")
            if index is None:
                if line > HEADER_SEARCH_ROWS:
                    break
                found = [(_norm_header(v), i) for i, v in enumerate(cells)]
                if not any(h == key_header for h, _ in found):
                    continue
                index = {}
                for h, i in found:
                    col = by_header.get(h)
                    if col is None:
                        continue
                    if col.field in index:
                        raise _fail(f"工作表“{title}”的第 {line} 行有两列都叫“{col.header}”", "duplicate_header")
                    index[col.field] = i
                    letters[col.field] = get_column_letter(i + 1)
                missing = [c.header for c in columns if c.required and c.field not in index]
                if missing:
                    raise _fail(f"工作表“{title}”缺少必需的列:{'、'.join(missing)}", "missing_header")
                continue
            values = {f: (cells[i] if i < len(cells) else None) for f, i in index.items()}
            if all(_is_blank(v) for v in values.values()):
                continue  # blank, or something only in columns the import does not read
            if len(rows) >= max_rows:
                raise _fail(f"工作表“{title}”超过 {max_rows} 行数据,请拆分后分批导入", "too_many_rows")
            rows.append(_Row(title, line, values, letters))
    except DomainError:
        raise
    except Exception as exc:  # noqa: BLE001 - lazily parsed sheet XML may be broken
        log.info("excel sheet %s unreadable: %r", title, exc)
        raise _fail(f"工作表“{title}”已损坏,无法读取", "invalid_file") from None
    if index is None:
        needed = "、".join(c.header for c in columns if c.required)
        raise _fail(f"工作表“{title}”的前 {HEADER_SEARCH_ROWS} 行中找不到表头(应有:{needed})", "missing_header")
    return rows


# -- cell parsing: text, numbers, yes/no and names; the rules themselves are save_item's -------------

def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M" if (value.hour or value.minute) else "%Y-%m-%d")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


class _CellError(Exception):
    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


def _int(value):
    """A whole number as save_item takes it: numbers, or text it parses itself. Dates are refused here,
    because Excel turns 5/1 into a date and the number behind it would be silently wrong."""
    if isinstance(value, (dt.datetime, dt.date, dt.time, dt.timedelta)):
        raise _CellError("应填写整数,单元格却是日期或时间格式(请把单元格格式改为“常规”或“数值”)", "not_integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = _text(value).lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise _CellError(f"应填“是”或“否”,收到“{_text(value)[:20]}”", "not_yes_no")


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
        text = _text(value)
        found = self.depts_by_uscc.get(text.upper())
        if found is None and len(self.depts_by_name.get(text, [])) == 1:
            found = self.depts_by_name[text][0]
        return found or text

    def themes(self, value) -> list[str]:
        out = []
        for token in LIST_SPLIT.split(_text(value)):
            if not token:
                continue
            if token not in self.theme_codes and len(self.themes_by_name.get(token, [])) == 1:
                token = self.themes_by_name[token][0]
            out.append(token)
        return out

    def halls(self, value) -> list[int]:
        out = []
        for token in (t.strip() for t in LINE_SPLIT.split(_text(value))):
            if not token:
                continue
            ids = self.halls_by_name.get(token, [])
            if len(ids) == 1:
                out.append(ids[0])
            elif len(ids) > 1:
                raise _CellError(f"有多个大厅叫“{token}”,请改填大厅编号", "ambiguous_hall")
            elif token.isdigit() and int(token) in self.hall_ids:
                out.append(int(token))
            else:
                raise _CellError(f"找不到大厅“{token}”", "unknown_hall")
        return out

    def proofs(self, value) -> list:
        return [self.proofs_by_name.get(t, t) for t in (t.strip() for t in LINE_SPLIT.split(_text(value))) if t]


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


def _parse_item(row: _Row, refs: _Refs, existing: ServiceItem | None, errors: list[dict]) -> tuple[dict, str | None, str]:
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
                if _is_blank(value):
                    data.pop(col.field, None)  # empty: save_item's default (or its "不能为空")
                else:
                    data[col.field] = _int(value) if col.kind == "int" else _bool(value)
            elif col.kind == "themes":
                data[col.field] = refs.themes(value)
            elif col.kind == "halls":
                data[col.field] = refs.halls(value)
            elif col.kind == "proofs":
                data[col.field] = refs.proofs(value)
            elif col.kind == "status":
                text = _text(value)
                if text:
                    status = STATUS_LABELS.get(text, text if text in ServiceItem.Status.values else None)
                    if status is None:
                        raise _CellError(f"“{text[:20]}”不是有效的状态(草稿、已发布、已撤回)", "invalid_choice")
            elif col.kind == "reason":
                reason = _text(value)[:300]
            else:  # text, choice, region, levels: save_item parses them
                text = _text(value)
                if existing is not None and col.field in TEXT_FIELDS and _same_text(text, getattr(existing, col.field)):
                    text = getattr(existing, col.field)
                data[col.field] = text
        except _CellError as exc:
            data.pop(col.field, None)
            errors.append(_detail(row, col.field, ITEM_HEADERS, exc.message, exc.code))
    return data, status, reason


def _parse_material(row: _Row, refs: _Refs, errors: list[dict]) -> dict:
    data: dict[str, object] = {}
    for col in MATERIAL_COLUMNS[1:]:
        if col.field not in row.values:
            continue
        value = row.values[col.field]
        try:
            if col.kind == "bool":
                if not _is_blank(value):
                    data[col.field] = _bool(value)
            elif col.kind == "int":
                if not _is_blank(value):
                    data[col.field] = _int(value)
            elif col.kind == "proofs":
                found = refs.proofs(value)
                if len(found) > 1:
                    raise _CellError("每条材料只能对应一项证明", "invalid")
                data[col.field] = found[0] if found else None
            else:
                data[col.field] = _text(value)
        except _CellError as exc:
            errors.append(_detail(row, col.field, MATERIAL_HEADERS, exc.message, exc.code))
    return data


def _detail(row: _Row, field_name: str | None, headers: dict[str, str], message: str, code: str = "invalid") -> dict:
    header = headers.get(field_name or "", "")
    letter = row.letters.get(field_name or "", "")
    return {
        "row": row.where(), "sheet": row.sheet, "line": row.line, "field": header,
        "cell": f"{letter}{row.line}" if letter else "", "code": code,
        "message": f"{header}:{message}" if header else message,
    }


_MATERIAL_ERROR_COLUMN = {"required": "name", "too_long": "name", "invalid_choice": "form",
                          "pending_not_required": "pending_allowed", "not_integer": "copies"}


def _service_errors(exc: DomainError, row: _Row, materials: list[tuple[_Row, dict]], errors: list[dict]) -> None:
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
                errors.append(_detail(target, _MATERIAL_ERROR_COLUMN.get(code, "name"), MATERIAL_HEADERS, message, code))
                continue
        if fname == "proofs":
            m = re.search(r"“(.+?)”", message)
            if m:
                target = next((r for r, md in materials if _text(r.values.get("proof")) == m.group(1)), None)
            if target is not None:
                errors.append(_detail(target, "proof", MATERIAL_HEADERS, message, code))
                continue
        errors.append(_detail(row, fname if fname in ITEM_HEADERS else None, ITEM_HEADERS,
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
    wb = _open_workbook(data)
    try:
        item_rows = _read_sheet(wb, ITEM_SHEET, ITEM_COLUMNS, MAX_ITEM_ROWS)
        material_rows = _read_sheet(wb, MATERIAL_SHEET, MATERIAL_COLUMNS, MAX_MATERIAL_ROWS)
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
    rows_by_code: list[tuple[str, _Row]] = []
    for row in item_rows:
        code = _text(row.values.get("code"))
        key = code.upper()
        if key in first_line:
            errors.append(_detail(row, "code", ITEM_HEADERS, f"实施编码“{code}”与第 {first_line[key]} 行重复", "duplicate_in_file"))
            continue
        if key:
            first_line[key] = row.line
        rows_by_code.append((key, row))
    materials_by_code: dict[str, list[tuple[_Row, dict]]] = defaultdict(list)
    for row in material_rows:
        code = _text(row.values.get("item_code"))
        if not code:
            errors.append(_detail(row, "item_code", MATERIAL_HEADERS, "不能为空", "required"))
        elif code.upper() not in first_line:
            errors.append(_detail(row, "item_code", MATERIAL_HEADERS, f"“{code}”不在“事项”表中", "unknown_item"))
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
        errors.append(_detail(row, "status", ITEM_HEADERS, f"“{item.get_status_display()}”的事项不能改回草稿;如需下线请填“已撤回”", "invalid_transition"))
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
        errors.append(_detail(row, None, ITEM_HEADERS, "数据库拒绝保存这一行,请检查内容是否过长或格式异常", "database_error"))
        return
    result.materials += len(mats)
    if item is None:
        result.created_codes.append(saved.code)
    elif saved.version != before_version:
        result.updated_codes.append(saved.code)
    else:
        result.unchanged_codes.append(saved.code)

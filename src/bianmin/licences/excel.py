"""Bulk import of licences issued before the platform (Excel): all rows or none.

One sheet, 证照, one licence per row (the console's template, `write_template`, has the columns and a
填写说明 sheet). Every row goes through `services.issue_licence(imported=True)` — the one place the
rules live (identity checksums, holder kind, dates, unique numbers) — and is signed with its issuing
department's active seal. All rows are written in ONE transaction: if any row has an error nothing is
written, and a ValidationError(code="import_failed") lists every error by row, cell, column and a
Chinese message. `dry_run=True` checks everything the same way, then rolls back.

Who may import: from the console, approvers and system admins; an approver only licences issued by
their own department, a system admin any department's; the CLI (`bianmin import-licences`, actor
None) any department's.

The file checks (size, real .xlsx, zip bombs), the sheet reader and the error report are the
platform's (`core.xlsx`), shared with the catalog import.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction

from bianmin.core import xlsx
from bianmin.core.errors import DomainError, PermissionDenied, ValidationError
from bianmin.core.xlsx import Column, read_upload
from bianmin.org.models import Department, Role

from . import services
from .models import Licence, LicenceType

SHEET = "证照"
HELP_SHEET = "填写说明"
MAX_FILE_BYTES = xlsx.MAX_FILE_BYTES  # as read_upload enforces
MAX_ROWS = 20_000
LONG_TERM = {"长期", "长期有效", "永久", "无期限"}
_DATE_TEXT = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")

COLUMNS = [
    Column("证照类型", "licence_type", width=18, required=True, note="证照类型简码(如 yyzz)或名称(如 营业执照)"),
    Column("证照编号", "number", width=24, required=True, note="原证照上的编号;同一类型内不能重复"),
    Column("持证主体", "holder_name", width=28, required=True, note="自然人姓名或单位名称"),
    Column("持证主体代码", "holder_id_number", width=22, required=True, note="居民身份证号码或统一社会信用代码(18 位)"),
    Column("颁证单位", "issuer", width=28, required=True, note="部门全称或统一社会信用代码"),
    Column("颁证日期", "issued_on", width=14, required=True, note="日期,例如 2019-03-15;不能晚于今天"),
    Column("有效期起始", "valid_from", width=14, note="留空则为颁证日期"),
    Column("有效期截止", "valid_until", width=14, note="留空则按证照类型的有效期计算;填“长期”表示长期有效"),
    Column("行政区划代码", "region_code", width=14, note="留空则为颁证单位所在区划"),
    Column("照面信息", "surface", width=40, note="每行一项,格式“项目:内容”,例如“经营场所:湛江市赤坎区中山一路1号”"),
]
HEADERS = {c.field: c.header for c in COLUMNS}
FIELD_COLUMN = {"holder_id_number": "holder_id_number", "holder_name": "holder_name", "number": "number",
                "issued_on": "issued_on", "valid_from": "valid_from", "valid_until": "valid_until",
                "region_code": "region_code", "surface": "surface", "licence_type": "licence_type", "issuer": "issuer"}


@dataclass
class ImportResult:
    dry_run: bool = False
    created: int = 0
    by_type: Counter = field(default_factory=Counter)
    expired: int = 0

    def summary(self) -> str:
        kinds = "、".join(f"{name} {n} 张" for name, n in self.by_type.most_common())
        expired = f"其中 {self.expired} 张已过有效期,导入后状态为“已过期”。" if self.expired else ""
        if self.dry_run:
            return f"检查通过(未写入任何数据):共 {self.created} 张证照可以导入({kinds})。{expired}"
        return f"导入完成:共导入 {self.created} 张证照({kinds}),均已加盖颁证单位电子印章。{expired}"


class _Rollback(Exception):
    pass


# ----------------------------------------------------------------------------- cells

def _date(value, *, required: bool):
    if xlsx.is_blank(value):
        if required:
            raise xlsx.CellError("不能为空", "required")
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)):
        raise xlsx.CellError("应为日期(例如 2019-03-15),单元格却是数字;请把单元格格式设为“日期”或填文字", "invalid_date")
    text = xlsx.text(value)
    m = _DATE_TEXT.fullmatch(text)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    raise xlsx.CellError(f"“{text[:20]}”不是有效的日期,应为例如 2019-03-15", "invalid_date")


def _surface(value) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in re.split(r"[\r\n]+", xlsx.text(value)):
        line = line.strip()
        if not line:
            continue
        key, sep, rest = line.replace(":", ":").partition(":")
        if not sep or not key.strip():
            raise xlsx.CellError(f"“{line[:20]}”应写成“项目:内容”", "invalid_surface")
        out[key.strip()] = rest.strip()
    return out


class _Refs:
    """Licence types and departments by the codes and names people type; loaded once per import."""

    def __init__(self):
        self.types: dict[str, LicenceType] = {}
        names: dict[str, list[LicenceType]] = defaultdict(list)
        for t in LicenceType.objects.all():
            self.types[t.code.lower()] = t
            names[t.name].append(t)
        self.type_names = {name: ts[0] for name, ts in names.items() if len(ts) == 1}
        self.depts_by_uscc: dict[str, Department] = {}
        names_d: dict[str, list[Department]] = defaultdict(list)
        for d in Department.objects.select_related("region"):
            self.depts_by_uscc[d.uscc.upper()] = d
            names_d[d.name].append(d)
        self.depts_by_name = names_d

    def licence_type(self, value) -> LicenceType:
        text = xlsx.text(value)
        found = self.types.get(text.lower()) or self.type_names.get(text)
        if found is None:
            raise xlsx.CellError(f"“{text[:20]}”不是已登记的证照类型(填简码或名称)", "unknown_licence_type")
        return found

    def department(self, value) -> Department:
        text = xlsx.text(value)
        found = self.depts_by_uscc.get(text.upper())
        if found is None:
            same = self.depts_by_name.get(text, [])
            if len(same) > 1:
                raise xlsx.CellError(f"有多个部门名为“{text[:30]}”,请填统一社会信用代码", "ambiguous_department")
            found = same[0] if same else None
        if found is None:
            raise xlsx.CellError(f"“{text[:30]}”不是已登记的部门(填全称或统一社会信用代码)", "unknown_department")
        return found


def _allowed_issuer(actor, department: Department) -> bool:
    if actor is None:
        return True
    staff = getattr(actor, "staff", None)
    return staff is not None and (staff.role == Role.ADMIN or staff.department_id == department.pk)


def _check_actor(actor) -> None:
    if actor is None:
        return
    staff = getattr(actor, "staff", None)
    if staff is None or staff.role not in (Role.APPROVER, Role.ADMIN):
        raise PermissionDenied("只有决定人员或系统管理员可以导入存量证照", code="role_not_allowed")


# ----------------------------------------------------------------------------- import

def _parse(row: xlsx.Row, refs: _Refs, actor, errors: list[dict]) -> dict | None:
    """The row's cells as issue_licence takes them; None (errors appended) if a cell is unusable."""
    before = len(errors)
    data: dict = {}
    for col in COLUMNS:
        value = row.values.get(col.field)
        try:
            if col.field == "licence_type":
                data["licence_type"] = refs.licence_type(value) if not xlsx.is_blank(value) else None
            elif col.field == "issuer":
                if xlsx.is_blank(value):
                    data["issuer"] = None
                else:
                    dept = refs.department(value)
                    if not _allowed_issuer(actor, dept):
                        raise xlsx.CellError("只能导入本部门颁发的证照", "other_department")
                    data["issuer"] = dept
            elif col.field in ("issued_on", "valid_from"):
                data[col.field] = _date(value, required=col.required)
            elif col.field == "valid_until":
                text = xlsx.text(value)
                if text in LONG_TERM:
                    data["valid_until"], data["long_term"] = None, True
                else:
                    data["valid_until"] = _date(value, required=False)
            elif col.field == "surface":
                data["surface"] = _surface(value) if not xlsx.is_blank(value) else {}
            else:
                data[col.field] = xlsx.text(value)
            if col.required and data.get(col.field) in (None, ""):
                raise xlsx.CellError("不能为空", "required")
        except xlsx.CellError as exc:
            errors.append(xlsx.error_entry(row, col.field, HEADERS, exc.message, exc.code))
            data[col.field] = None
    return data if len(errors) == before else None


def _issue_row(data: dict, actor) -> Licence:
    return services.issue_licence(
        licence_type=data["licence_type"], holder_name=data["holder_name"], holder_id_number=data["holder_id_number"],
        issuer=data["issuer"], number=data["number"], issued_on=data["issued_on"], valid_from=data["valid_from"],
        valid_until=data.get("valid_until"), long_term=bool(data.get("long_term")), surface=data["surface"],
        region_code=data.get("region_code") or None, actor=actor, imported=True,
    )


def import_licences(fh, actor=None, dry_run: bool = False) -> ImportResult:
    """Import the 证照 sheet of an .xlsx file object: all rows or none (see the module's docstring)."""
    _check_actor(actor)
    wb = xlsx.open_workbook(read_upload(fh))
    try:
        rows = xlsx.read_sheet(wb, SHEET, COLUMNS, MAX_ROWS, key_header="证照编号")
    finally:
        try:
            wb.close()
        except Exception:  # noqa: BLE001
            pass
    if not rows:
        raise ValidationError(f"“{SHEET}”表中没有任何证照行", code="no_rows")

    refs = _Refs()
    errors: list[dict] = []
    parsed: list[tuple[xlsx.Row, dict]] = []
    first_line: dict[tuple[int, str], int] = {}
    for row in rows:
        data = _parse(row, refs, actor, errors)
        if data is None:
            continue
        key = (data["licence_type"].pk, data["number"])
        if key in first_line:
            errors.append(xlsx.error_entry(row, "number", HEADERS, f"与第 {first_line[key]} 行的证照类型和编号重复", "duplicate_in_file"))
            continue
        first_line[key] = row.line
        parsed.append((row, data))

    result = ImportResult(dry_run=dry_run)
    try:
        with transaction.atomic():
            for row, data in parsed:
                try:
                    with transaction.atomic():
                        licence = _issue_row(data, actor)
                except DomainError as exc:
                    column = FIELD_COLUMN.get(exc.field or "", None)
                    errors.append(xlsx.error_entry(row, column, HEADERS, exc.message, exc.code))
                    continue
                except DatabaseError:
                    errors.append(xlsx.error_entry(row, None, HEADERS, "数据库拒绝保存这一行,请检查内容是否过长或格式异常", "database_error"))
                    continue
                result.created += 1
                result.by_type[licence.name] += 1
                result.expired += licence.status == "expired"
            if errors or dry_run:
                raise _Rollback
    except _Rollback:
        pass
    if errors:
        errors.sort(key=lambda e: e["line"])
        n = len({e["line"] for e in errors})
        raise ValidationError(f"导入失败:共 {n} 行有误,未导入任何证照", code="import_failed", details=errors)
    return result


# ----------------------------------------------------------------------------- template

def write_template(fh, department: Department | None = None) -> None:
    """The import template: the 证照 sheet's header (and the department filled in on one example row
    left to the 填写说明 sheet, so the template itself imports nothing) and the rules per column."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    for i, col in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=i, value=col.header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE6F0")
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(i)].width = col.width
        # dates and ID numbers as text: Excel would otherwise turn an 18-digit number into 4.408E+17
        for r in range(2, 1002):
            ws.cell(row=r, column=i).number_format = "@"
    ws.freeze_panes = "A2"
    help_ws = wb.create_sheet(HELP_SHEET)
    help_ws.column_dimensions["A"].width = 16
    help_ws.column_dimensions["B"].width = 90
    help_ws.append(["列", "填写要求"])
    for col in COLUMNS:
        help_ws.append([col.header, ("必填。" if col.required else "") + col.note])
    help_ws.append([])
    example_issuer = department.name if department else "湛江市市场监督管理局"
    help_ws.append(["示例", f"yyzz | 91440800MA4W000001 | 湛江市某某有限公司 | 91440800MA4W00000X | {example_issuer} | 2019-03-15 | | 长期 | | 住所:湛江市赤坎区中山一路1号"])
    for line in (
        "任一行有误则整个文件都不导入,并逐行列出错误;改正后重新导入即可。",
        f"每个文件最多 {MAX_ROWS} 行,不超过 {MAX_FILE_BYTES // 1024 // 1024} MB。",
        "导入的证照以颁证单位当前的电子印章签章,可在“证照核验”页面核验。",
    ):
        help_ws.append(["", line])
    wb.save(fh)

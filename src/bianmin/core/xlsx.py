"""Excel (.xlsx) in and out, for every app that imports or exports a sheet (catalog, licences,
supervision): the upload checks (size, a real .xlsx by content, zip bombs), the sheet reader (a
header row found by its key column, rows as raw cell values), cell parsing (text, whole numbers,
yes/no words), the error report's entry (sheet, row, cell, column, stable code, Chinese message), and
writing: a styled header and rows whose text can never turn into a formula.

Each app keeps its own columns and the meaning of its rows; the rules themselves stay in its services.
Bad files get a clear Chinese error with a stable code: invalid_file, empty_file, file_too_large,
missing_sheet, missing_header, duplicate_header, too_many_rows.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from dataclasses import dataclass

from . import zipcheck
from .errors import DomainError, ValidationError

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024          # the upload itself
MAX_UNCOMPRESSED_BYTES = 300 * 1024 * 1024  # what the zip may unpack to (zip bombs)
MAX_ZIP_ENTRIES = 10_000
MAX_XLSX_RATIO = 1000  # what one sheet's XML may expand to, compared with its compressed size
MAX_SCANNED_ROWS = 250_000                  # rows looked at, blank ones included
MAX_COLUMNS = 80
HEADER_SEARCH_ROWS = 5                      # the header may sit below a title row or two

# The yes/no words people type in a sheet or a form (case-insensitive, after trimming).
YES_WORDS = frozenset({"是", "y", "yes", "true", "1", "√", "✓", "on", "有", "t"})
NO_WORDS = frozenset({"否", "n", "no", "false", "0", "×", "✗", "off", "无", "不是", "f", "none"})

ILLEGAL_XML = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
# A spreadsheet evaluates text starting with these as a formula (CSV/formula injection, OWASP):
# such text is written with a leading apostrophe, and the apostrophe is dropped again on import.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_ESCAPE = "'"


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    kind: str = "text"   # how the app parses the column (text, int, bool, or its own kinds)
    width: int = 14
    required: bool = False
    note: str = ""


@dataclass
class Row:
    sheet: str
    line: int
    values: dict[str, object]          # field -> raw cell value, only for the columns present
    letters: dict[str, str]            # field -> column letter

    def where(self) -> str:
        return f"{self.sheet}!第{self.line}行"


class CellError(Exception):
    """A cell that cannot be read as its column asks; the caller adds it to the error report."""

    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


def _fail(message: str, code: str, **kw) -> ValidationError:
    return ValidationError(message, code=code, **kw)


# ---------------------------------------------------------------------------------------------- upload

def read_upload(fh, max_bytes: int | None = None) -> bytes:
    """The file's bytes, after the checks any upload gets: size, emptiness, and that it is really an .xlsx (zip)."""
    max_bytes = max_bytes or MAX_FILE_BYTES
    try:
        if hasattr(fh, "seek"):
            try:
                fh.seek(0)
            except Exception:  # noqa: BLE001 - unseekable streams are read as they are
                pass
        data = fh.read(max_bytes + 1)
    except Exception as exc:  # noqa: BLE001 - an unreadable upload is the user's problem, not a 500
        log.info("excel upload unreadable: %r", exc)
        raise _fail("无法读取上传的文件", "invalid_file") from None
    if isinstance(data, str):
        raise _fail("文件应以二进制方式打开(.xlsx)", "invalid_file")
    if not data:
        raise _fail("文件是空的,请选择导出的 .xlsx 文件", "empty_file")
    if len(data) > max_bytes:
        raise _fail(f"文件超过 {max_bytes // 1024 // 1024} MB,请拆分后分批导入", "file_too_large")
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
    # the one archive check (core.zipcheck: entry names, count, total size, ratio), with the import's codes;
    # sheets of repeated XML compress far better than uploads, hence the higher ratio
    try:
        infos = zipcheck.check_zip(io.BytesIO(data), max_total=MAX_UNCOMPRESSED_BYTES, max_entries=MAX_ZIP_ENTRIES,
                                   max_ratio=MAX_XLSX_RATIO, verify=False, field=None, label="Excel 文件")
    except ValidationError as exc:
        too_big = exc.code in ("zip_too_large", "zip_too_many_entries", "zip_ratio_too_high")
        raise _fail("文件解压后过大,请拆分后分批导入" if too_big else
                    ("文件已损坏,无法作为 .xlsx 打开" if exc.code == "zip_damaged" else exc.message),
                    "file_too_large" if too_big else "invalid_file") from None
    names = {i.filename.lower() for i in infos}
    if "xl/workbook.xml" not in names or "[content_types].xml" not in names:
        raise _fail("这是压缩文件但不是 Excel 工作簿(.xlsx)", "invalid_file")


def open_workbook(data: bytes):
    from openpyxl import load_workbook

    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds; all mean "cannot read this file"
        log.info("excel workbook unreadable: %r", exc)
        raise _fail("无法读取 Excel 文件:文件已损坏或不是 .xlsx 格式", "invalid_file") from None


# ---------------------------------------------------------------------------------------------- reading

def norm_header(value) -> str:
    if value is None:
        return ""
    return re.sub(r"\s+", "", str(value)).replace("(", "(").replace(")", ")")


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_sheet(wb, title: str, columns: list[Column], max_rows: int, *, key_header: str) -> list[Row]:
    """The sheet's data rows. The header row is the first of the top HEADER_SEARCH_ROWS rows holding
    `key_header`; columns the app does not know are ignored, required ones must be there."""
    from openpyxl.utils import get_column_letter

    if title not in wb.sheetnames:
        others = "、".join(f"“{n}”" for n in wb.sheetnames) or "无"
        raise _fail(f"文件中没有名为“{title}”的工作表(现有工作表:{others})。请使用导出的文件作为模板", "missing_sheet")
    ws = wb[title]
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # do not trust the file's own idea of its size
    by_header = {norm_header(c.header): c for c in columns}
    index: dict[str, int] | None = None
    rows: list[Row] = []
    letters: dict[str, str] = {}
    try:
        for line, cells in enumerate(ws.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
            if line > MAX_SCANNED_ROWS:
                raise _fail(f"工作表“{title}”超过 {MAX_SCANNED_ROWS} 行,请拆分后分批导入", "too_many_rows")
            if index is None:
                if line > HEADER_SEARCH_ROWS:
                    break
                found = [(norm_header(v), i) for i, v in enumerate(cells)]
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
            if all(is_blank(v) for v in values.values()):
                continue  # blank, or something only in columns the import does not read
            if len(rows) >= max_rows:
                raise _fail(f"工作表“{title}”超过 {max_rows} 行数据,请拆分后分批导入", "too_many_rows")
            rows.append(Row(title, line, values, letters))
    except DomainError:
        raise
    except Exception as exc:  # noqa: BLE001 - lazily parsed sheet XML may be broken
        log.info("excel sheet %s unreadable: %r", title, exc)
        raise _fail(f"工作表“{title}”已损坏,无法读取", "invalid_file") from None
    if index is None:
        needed = "、".join(c.header for c in columns if c.required)
        raise _fail(f"工作表“{title}”的前 {HEADER_SEARCH_ROWS} 行中找不到表头(应有:{needed})", "missing_header")
    return rows


# -- cell parsing -------------------------------------------------------------------------------------

def text(value) -> str:
    """A cell as text: whole floats without ".0", dates as ISO, trimmed; the apostrophe an export put
    before formula-like text is dropped (see `cell_value`)."""
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
    return unescape_formula(str(value)).strip()


def integer(value):
    """A whole number as a service takes it: numbers, or text it parses itself. Dates are refused here,
    because Excel turns 5/1 into a date and the number behind it would be silently wrong."""
    if isinstance(value, (dt.datetime, dt.date, dt.time, dt.timedelta)):
        raise CellError("应填写整数,单元格却是日期或时间格式(请把单元格格式改为“常规”或“数值”)", "not_integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value.strip()
    return value


def yes_no(value) -> bool | None:
    """The one reading of yes/no words in imports and forms: True, False, or None when `value` is
    not one of them (the caller reports it; never a silent no). Blank is None too."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    word = text(value).lower()
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    return None


def boolean(value) -> bool:
    """A yes/no cell, or CellError not_yes_no."""
    answer = yes_no(value)
    if answer is None:
        raise CellError(f"应填“是”或“否”,收到“{text(value)[:20]}”", "not_yes_no")
    return answer


def yes_no_word(value: bool) -> str:
    return "是" if value else "否"


def error_entry(row: Row, field_name: str | None, headers: dict[str, str], message: str, code: str = "invalid") -> dict:
    """One entry of an import's error report: where (sheet, row, cell, column) and what (code, message)."""
    header = headers.get(field_name or "", "")
    letter = row.letters.get(field_name or "", "")
    return {
        "row": row.where(), "sheet": row.sheet, "line": row.line, "field": header,
        "cell": f"{letter}{row.line}" if letter else "", "code": code,
        "message": f"{header}:{message}" if header else message,
    }


# ---------------------------------------------------------------------------------------------- writing

def escape_formula(value: str) -> str:
    """Text that a spreadsheet would read as a formula gets a leading apostrophe (T-security, issue 11)."""
    if value.startswith(FORMULA_STARTS):
        return FORMULA_ESCAPE + value
    return value


def unescape_formula(value: str) -> str:
    if value.startswith(FORMULA_ESCAPE) and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def cell_value(value):
    """A value as a cell takes it: text without the control characters XML cannot hold, and never
    starting like a formula; numbers, dates and None as they are."""
    if isinstance(value, str):
        return escape_formula(ILLEGAL_XML.sub("", value))
    return value


def add_sheet(wb, title: str, columns: list[Column], *, freeze: str = "B2"):
    """A write-only sheet with its column widths and a bold, shaded header row."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    ws.freeze_panes = freeze
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


def append_row(ws, columns: list[Column], row: dict) -> None:
    """One row of a write-only sheet, the columns' fields taken from `row`; text stays text."""
    from openpyxl.cell import WriteOnlyCell

    cells = []
    for col in columns:
        value = cell_value(row.get(col.field))
        if isinstance(value, str):
            cell = WriteOnlyCell(ws, value=value)
            cell.data_type = "s"  # a string cell, whatever it looks like
            cells.append(cell)
        else:
            cells.append(value)
    ws.append(cells)

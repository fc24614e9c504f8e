"""Excel export and import of the catalog: round trip, all-or-nothing, row-level errors, bad files, CLI."""

import io
import zipfile

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from bianmin import cli
from bianmin.catalog import excel, services
from bianmin.core import xlsx
from bianmin.catalog.models import ItemVersion, Material, Proof, ServiceItem, Theme
from bianmin.core.errors import ValidationError
from bianmin.core.models import AuditEntry
from tests.conftest import item_data

HEADERS = [c.header for c in excel.ITEM_COLUMNS]
M_HEADERS = [c.header for c in excel.MATERIAL_COLUMNS]


def export_bytes(qs=None) -> bytes:
    buf = io.BytesIO()
    excel.export_catalog(buf, qs)
    return buf.getvalue()


def workbook(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def to_bytes(wb) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def rows(ws):
    """A sheet as a list of {header: value}, header row excluded."""
    values = list(ws.iter_rows(values_only=True))
    header = values[0]
    return [dict(zip(header, r)) for r in values[1:]]


def new_file(items: list[dict], materials: list[dict], item_headers=HEADERS, material_headers=M_HEADERS) -> io.BytesIO:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "事项"
    ws.append(item_headers)
    for r in items:
        ws.append([r.get(h) for h in item_headers])
    ms = wb.create_sheet("申请材料")
    ms.append(material_headers)
    for r in materials:
        ms.append([r.get(h) for h in material_headers])
    return io.BytesIO(to_bytes(wb))


def good_row(code, department="湛江市市场监督管理局", **over):
    row = {
        "事项名称": "食品经营许可证核发", "基本编码": "11440800MB2C91", "实施编码": code, "事项类型": "行政许可",
        "设定依据": "《中华人民共和国食品安全法》第三十五条", "实施主体": department, "层级": "市级",
        "服务对象": "法人", "受理条件": "有与经营的食品相适应的场所。", "办理流程": "申请、受理、审查、决定",
        "法定时限": 20, "承诺时限": 5, "状态": "草稿",
    }
    row.update(over)
    return row


def material(code, name="申请书", **over):
    row = {"实施编码": code, "材料名称": name, "材料形式": "申请表", "份数": 1, "必要": "是"}
    row.update(over)
    return row


def import_error(fh, **kw) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        excel.import_catalog(fh, **kw)
    return info.value


# ------------------------------------------------------------------------------------------ export

def test_export_writes_every_item_and_material_with_chinese_values(make_item, departments):
    published = make_item(name="食品经营许可")
    # a name written before names starting with "=" were refused (issue 11.7) still exports as text
    ServiceItem.objects.filter(pk=published.pk).update(name="=1+1 食品经营许可")
    draft = make_item(departments["chikan_civil"], name="最低生活保障", kind="benefit", audience="person",
                      status="draft", is_immediate=True, promised_days=0, materials=[{"name": "身份证"}])

    data = export_bytes()
    wb = workbook(data)
    assert wb.sheetnames == ["事项", "申请材料", "填写说明"]
    ws = wb["事项"]
    assert [c.value for c in ws[1]] == HEADERS
    assert all(c.font.b for c in ws[1])
    assert ws.freeze_panes == "B2"
    assert ws.column_dimensions["A"].width == 30
    items = rows(ws)
    assert len(items) == 2
    first, second = items
    assert first["实施编码"] == published.code
    assert first["事项名称"] == "'=1+1 食品经营许可"  # an apostrophe first: no spreadsheet reads it as a formula
    assert ws["A2"].data_type == "s"  # text, never a formula
    assert first["事项类型"] == "行政许可"
    assert first["实施主体"] == "湛江市市场监督管理局"
    assert first["实施区划"] == "440800"
    assert first["层级"] == "市级"
    assert first["服务对象"] == "法人"
    assert (first["法定时限"], first["承诺时限"], first["收费金额(分)"]) == (20, 5, 0)
    assert first["收费标准"] == "不收费"
    assert first["即办件"] == "否"
    assert first["网办深度"] == 4
    assert first["就近可办层级"] == "市级、县级"
    assert first["到现场次数"] == 0
    assert first["状态"] == "已发布"
    assert second["状态"] == "草稿"
    assert second["即办件"] == "是"
    assert second["实施主体"] == "湛江市赤坎区民政局"
    assert second["服务对象"] == "自然人"
    assert second["事项类型"] == "行政给付"
    assert second["层级"] == "县级"

    mats = rows(wb["申请材料"])
    assert [(m["实施编码"], m["材料名称"]) for m in mats] == [
        (published.code, "食品经营许可申请书"), (published.code, "营业执照"),
        (published.code, "食品安全管理制度文本"), (draft.code, "身份证")]
    assert mats[0]["材料形式"] == "申请表"
    assert mats[1]["电子证照替代"] == "yyzz"
    assert (mats[2]["必要"], mats[2]["可容缺"], mats[2]["可告知承诺"]) == ("是", "是", "否")


def test_export_of_a_queryset_and_its_query_count(make_item, departments, django_assert_max_num_queries):
    for i in range(22):
        make_item(departments["market"] if i % 2 else departments["police"])
    buf = io.BytesIO()
    with django_assert_max_num_queries(8):
        count = excel.export_catalog(buf, ServiceItem.objects.filter(department=departments["market"]))
    assert count == 11
    assert len(rows(workbook(buf.getvalue())["事项"])) == 11
    assert len(rows(workbook(buf.getvalue())["申请材料"])) == 33


# ------------------------------------------------------------------------------------------ round trip

@pytest.fixture
def rich_catalog(make_item, departments, halls):
    Theme.objects.create(code="kaiban", name="开办企业")
    Theme.objects.create(code="shengyu", name="生育")
    proof = Proof.objects.create(name="无犯罪记录证明", legal_basis="《xx条例》", requesting_unit="市场监管局", issuing_unit="公安局")
    other = Proof.objects.create(name="婚姻状况证明", legal_basis="《yy条例》", requesting_unit="民政局", issuing_unit="民政局")
    a = make_item(themes=["kaiban", "shengyu"], halls=[halls["city"].pk, halls["town"].pk], proofs=[other.pk],
                  origin_department=departments["police"], conditions="一、有场所;\r\n二、有人员。",
                  fees="按规定收费", fee_fen=2500, phone="0759-1234567", location="湛江市政务服务中心",
                  materials=[{"name": "申请书", "form": "form", "description": "第一行\r\n第二行"},
                             {"name": "无犯罪记录证明", "proof": proof.pk, "copies": 2, "commitment_allowed": True}])
    b = make_item(departments["chikan_civil"], status="draft", nearby_levels="county,town,village")
    c = make_item(departments["police"])
    services.withdraw_item(c, reason="停止办理")
    return [a, b, c]


def test_export_then_import_changes_nothing(rich_catalog):
    data = export_bytes()
    versions, audits = ItemVersion.objects.count(), AuditEntry.objects.count()
    before = {i.code: (i.version, i.status) for i in ServiceItem.objects.all()}

    result = excel.import_catalog(io.BytesIO(data))

    assert (result.created, result.updated, result.unchanged) == (0, 0, 3)
    assert result.summary() == "导入完成:共 3 个事项、8 条申请材料,新建 0 个、更新 0 个、3 个不变。"
    assert ItemVersion.objects.count() == versions
    assert AuditEntry.objects.count() == audits
    assert {i.code: (i.version, i.status) for i in ServiceItem.objects.all()} == before
    a = ServiceItem.objects.get(pk=rich_catalog[0].pk)
    assert a.conditions == "一、有场所;\r\n二、有人员。"  # the stored line breaks are kept
    assert sorted(t.code for t in a.themes.all()) == ["kaiban", "shengyu"]
    assert a.halls.count() == 2
    assert sorted(p.name for p in a.proofs.all()) == ["婚姻状况证明", "无犯罪记录证明"]
    assert a.origin_department.name == "湛江市公安局"
    # and the next export is the same as the first
    again = export_bytes()
    for sheet in ("事项", "申请材料"):
        assert rows(workbook(again)[sheet]) == rows(workbook(data)[sheet])


def test_a_file_without_optional_columns_keeps_their_values(rich_catalog):
    wb = workbook(export_bytes())
    ws = wb["事项"]
    keep = [i for i, h in enumerate(HEADERS) if excel.ITEM_COLUMNS[i].required]
    slim = openpyxl.Workbook()
    s = slim.active
    s.title = "事项"
    for r in ws.iter_rows(values_only=True):
        s.append([r[i] for i in keep])
    m = slim.create_sheet("申请材料")
    for r in wb["申请材料"].iter_rows(values_only=True):
        m.append(list(r))
    versions = ItemVersion.objects.count()
    result = excel.import_catalog(io.BytesIO(to_bytes(slim)))
    assert result.unchanged == 3
    assert ItemVersion.objects.count() == versions
    a = ServiceItem.objects.get(pk=rich_catalog[0].pk)
    assert (a.fee_fen, a.phone, a.halls.count(), a.themes.count()) == (2500, "0759-1234567", 2, 2)


# ------------------------------------------------------------------------------------------ create and update

def test_import_creates_two_items_and_updates_one_with_its_version_diff(make_item, staff, departments):
    existing = make_item(location="")
    user = staff["market_admin"].user
    wb = workbook(export_bytes())
    ws = wb["事项"]
    col = {h: i + 1 for i, h in enumerate(HEADERS)}
    ws.cell(2, col["承诺时限"], 3)
    ws.cell(2, col["办理地点"], "湛江市政务服务中心一楼")
    ws.cell(2, col["变更原因"], "压缩承诺时限")
    ws.append([good_row("NEW-001", 状态="已发布").get(h) for h in HEADERS])
    ws.append([good_row("NEW-002", 事项名称="食品小作坊登记", 法定时限="15", 承诺时限="10", 即办件="否").get(h) for h in HEADERS])
    ms = wb["申请材料"]
    for m in (material("NEW-001", "申请书"), material("NEW-001", "营业执照", 材料形式="原件", 份数="2"), material("NEW-002", "登记表")):
        ms.append([m.get(h) for h in M_HEADERS])

    result = excel.import_catalog(io.BytesIO(to_bytes(wb)), actor=user)

    assert (result.created, result.updated, result.unchanged) == (2, 1, 0)
    assert result.created_codes == ["NEW-001", "NEW-002"]
    assert result.published_codes == ["NEW-001"]
    assert result.summary() == "导入完成:共 3 个事项、6 条申请材料,新建 2 个、更新 1 个、0 个不变。其中发布 1 个、撤回 0 个。"

    existing.refresh_from_db()
    assert (existing.version, existing.promised_days, existing.location) == (2, 3, "湛江市政务服务中心一楼")
    v = existing.versions.first()
    assert (v.version, v.action, v.changed_by, v.reason) == (2, "import", user, "压缩承诺时限")
    assert {d["field"]: (d["label"], d["old"], d["new"]) for d in v.diff} == {
        "location": ("办理地点", "", "湛江市政务服务中心一楼"),
        "promised_days": ("承诺办结时限(工作日)", 5, 3),
    }

    one = ServiceItem.objects.get(code="NEW-001")
    assert (one.status, one.version, one.department, one.region_id) == ("published", 2, departments["market"], "440800")
    assert [(v.version, v.action, v.reason) for v in one.versions.all()] == [(2, "publish", "Excel 导入发布"), (1, "import", "Excel 导入")]
    assert [(m.name, m.form, m.copies) for m in one.materials.all()] == [("申请书", "form", 1), ("营业执照", "original", 2)]
    two = ServiceItem.objects.get(code="NEW-002")
    assert (two.status, two.version, two.statutory_days, two.promised_days) == ("draft", 1, 15, 10)
    assert two.online_level == 3 and two.max_visits == 1  # save_item's defaults for the absent cells


def test_dry_run_checks_and_writes_nothing(departments):
    count, versions = ServiceItem.objects.count(), ItemVersion.objects.count()
    result = excel.import_catalog(new_file([good_row("DRY-001")], [material("DRY-001")]), dry_run=True)
    assert result.created == 1
    assert result.summary().startswith("检查通过(未写入任何数据):共 1 个事项")
    assert (ServiceItem.objects.count(), ItemVersion.objects.count()) == (count, versions)


# ------------------------------------------------------------------------------------------ all or nothing

def test_one_bad_row_imports_nothing_and_says_where(departments):
    Proof.objects.create(name="已取消的证明", legal_basis="-", requesting_unit="-", issuing_unit="-", is_retained=False)
    items = [
        good_row("OK-001"),
        good_row("BAD-DAYS", 法定时限=5, 承诺时限=8),
        good_row("BAD-DEPT", department="湛江市不存在局", 实施区划="440800"),
        good_row("BAD-PROOF"),
    ]
    materials = [material("OK-001"), material("BAD-DAYS"), material("BAD-DEPT"),
                 material("BAD-PROOF", "申请书"), material("BAD-PROOF", "证明", 对应证明="已取消的证明")]
    count = ServiceItem.objects.count()

    err = import_error(new_file(items, materials))

    assert err.code == "import_failed"
    assert err.message == "导入失败:共 3 行有误,未导入任何事项"
    assert [(d["row"], d["cell"], d["field"], d["message"]) for d in err.details] == [
        ("事项!第3行", "N3", "承诺时限", "承诺时限:承诺时限(8 个工作日)不能超过法定时限(5 个工作日)"),
        ("事项!第4行", "F4", "实施主体", "实施主体:找不到部门“湛江市不存在局”"),
        ("申请材料!第6行", "J6", "对应证明", "对应证明:“已取消的证明”不在保留证明事项清单内,不得要求申请人提供"),
    ]
    assert ServiceItem.objects.count() == count
    assert not ServiceItem.objects.filter(code="OK-001").exists()


def test_an_update_is_rolled_back_when_another_row_fails(make_item):
    item = make_item()
    wb = workbook(export_bytes())
    ws = wb["事项"]
    ws.cell(2, HEADERS.index("事项名称") + 1, "改过的名称")
    ws.append([good_row("BAD", 事项类型="行政审查").get(h) for h in HEADERS])
    err = import_error(io.BytesIO(to_bytes(wb)))
    assert [(d["row"], d["field"], d["message"]) for d in err.details] == [
        ("事项!第3行", "事项类型", "事项类型:“行政审查”不是有效的取值")]
    item.refresh_from_db()
    assert (item.name, item.version) == ("食品经营许可证核发", 1)


def test_a_catalog_admin_cannot_import_another_departments_items(make_item, staff, departments):
    market_item = make_item(departments["market"])
    wb = workbook(export_bytes())
    ws = wb["事项"]
    ws.append([good_row("POLICE-NEW", department="湛江市公安局").get(h) for h in HEADERS])
    wb["申请材料"].append([material("POLICE-NEW").get(h) for h in M_HEADERS])
    err = import_error(io.BytesIO(to_bytes(wb)), actor=staff["police_admin"].user)
    assert [(d["row"], d["field"], d["message"]) for d in err.details] == [
        ("事项!第2行", "实施主体", "实施主体:只能维护本部门的事项")]
    assert market_item.versions.count() == 1
    # a system admin may
    result = excel.import_catalog(io.BytesIO(to_bytes(wb)), actor=staff["admin"].user)
    assert (result.created, result.unchanged) == (1, 1)


def test_cell_level_problems_are_reported_by_row_and_column(departments):
    import datetime as dt

    items = [
        good_row("C-001", 法定时限="20", 承诺时限=" 5 ", 网办深度=4.0),   # numbers as text or floats: fine
        good_row("C-002", 承诺时限=dt.datetime(2026, 1, 5)),                             # a date where a number belongs
        good_row("C-003", 即办件="也许"),
        good_row("C-001"),                                                                # the same code twice
        good_row("C-004", 状态="上线"),
    ]
    err = import_error(new_file(items, [material(c) for c in ("C-001", "C-002", "C-003", "C-004", "C-404")]))
    got = [(d["row"], d["field"], d["code"]) for d in err.details]
    assert got == [
        ("事项!第3行", "承诺时限", "not_integer"),
        ("事项!第4行", "即办件", "not_yes_no"),
        ("事项!第5行", "实施编码", "duplicate_in_file"),
        ("事项!第6行", "状态", "invalid_choice"),
        ("申请材料!第6行", "实施编码", "unknown_item"),
    ]
    assert err.details[2]["message"] == "实施编码:实施编码“C-001”与第 2 行重复"
    assert "日期" in err.details[0]["message"]
    assert err.message == "导入失败:共 5 行有误,未导入任何事项"


def test_formula_without_a_value_counts_as_empty(departments):
    wb = workbook(new_file([good_row("F-001")], [material("F-001")]).getvalue())
    wb["事项"].cell(2, HEADERS.index("法定时限") + 1, "=10+10")  # openpyxl stores no cached result
    err = import_error(io.BytesIO(to_bytes(wb)))
    assert [(d["row"], d["field"], d["message"]) for d in err.details] == [
        ("事项!第2行", "法定时限", "法定时限:不能为空")]


def test_status_changes_go_through_publish_and_withdraw(make_item):
    published = make_item()
    draft = make_item(status="draft")
    empty = make_item(status="draft", materials=[])
    wb = workbook(export_bytes())
    ws = wb["事项"]
    status_col, reason_col = HEADERS.index("状态") + 1, HEADERS.index("变更原因") + 1
    ws.cell(2, status_col, "已撤回")
    ws.cell(2, reason_col, "停止办理")
    ws.cell(3, status_col, "已发布")
    ws.cell(4, status_col, "已发布")  # no materials: publish_item refuses
    err = import_error(io.BytesIO(to_bytes(wb)))
    assert [(d["row"], d["field"], d["message"]) for d in err.details] == [
        ("事项!第4行", "状态", "状态:事项没有申请材料,不能发布")]

    ws.cell(4, status_col, "草稿")
    result = excel.import_catalog(io.BytesIO(to_bytes(wb)))
    assert (result.withdrawn_codes, result.published_codes, result.unchanged_codes) == ([published.code], [draft.code], [empty.code])
    published.refresh_from_db()
    draft.refresh_from_db()
    assert (published.status, published.version) == ("withdrawn", 2)
    assert (published.versions.first().action, published.versions.first().reason) == ("withdraw", "停止办理")
    assert (draft.status, draft.versions.first().action, draft.versions.first().reason) == ("published", "publish", "Excel 导入发布")

    # a withdrawn item cannot go back to draft; a withdrawal without a reason gets the default one
    ws.cell(2, status_col, "草稿")
    err = import_error(io.BytesIO(to_bytes(wb)))
    assert [(d["row"], d["field"], d["code"]) for d in err.details] == [("事项!第2行", "状态", "invalid_transition")]
    ws.cell(2, status_col, "已撤回")
    ws.cell(3, status_col, "已撤回")
    ws.cell(3, reason_col, None)
    excel.import_catalog(io.BytesIO(to_bytes(wb)))
    draft.refresh_from_db()
    assert (draft.status, draft.versions.first().reason) == ("withdrawn", "Excel 导入撤回")


# ------------------------------------------------------------------------------------------ bad files

def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


@pytest.mark.parametrize("content, code", [
    (b"", "empty_file"),
    (bytes(range(256)) * 40, "invalid_file"),
    ("实施编码,事项名称\nA-1,食品经营许可\n".encode("utf-8"), "invalid_file"),       # a CSV renamed .xlsx
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "invalid_file"),            # an old .xls
    (b"PK\x03\x04" + b"\0" * 100, "invalid_file"),                                  # a broken zip
    (_zip({"hello.txt": b"hi"}), "invalid_file"),                                  # a zip, not a workbook
    (_zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"not xml"}), "invalid_file"),
])
def test_files_that_are_not_workbooks_get_a_clear_error(db, content, code):
    err = import_error(io.BytesIO(content))
    assert err.code == code
    assert err.message and "Traceback" not in err.message


def test_file_size_is_capped(db, monkeypatch):
    data = new_file([good_row("S-1")], [material("S-1")]).getvalue()
    monkeypatch.setattr(xlsx, "MAX_FILE_BYTES", len(data) - 1)
    err = import_error(io.BytesIO(data))
    assert err.code == "file_too_large"
    assert "MB" in err.message


def test_row_count_is_capped(departments, monkeypatch):
    monkeypatch.setattr(excel, "MAX_ITEM_ROWS", 2)
    err = import_error(new_file([good_row(f"R-{i}") for i in range(3)], []))
    assert (err.code, err.message) == ("too_many_rows", "工作表“事项”超过 2 行数据,请拆分后分批导入")


def test_missing_sheet_header_and_rows(departments):
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    err = import_error(io.BytesIO(to_bytes(wb)))
    assert err.code == "missing_sheet"
    assert "“事项”" in err.message

    headers = [h for h in HEADERS if h != "承诺时限"]
    err = import_error(new_file([good_row("H-1")], [], item_headers=headers))
    assert (err.code, err.message) == ("missing_header", "工作表“事项”缺少必需的列:承诺时限")

    err = import_error(new_file([], []))
    assert err.code == "no_rows"

    err = import_error(new_file([good_row("H-1")], [], item_headers=HEADERS + ["承诺时限"]))
    assert err.code == "duplicate_header"


def test_a_title_row_above_the_header_is_fine(departments):
    wb = workbook(new_file([good_row("T-1")], [material("T-1")]).getvalue())
    wb["事项"].insert_rows(1)
    wb["事项"]["A1"] = "湛江市政务服务事项目录(2026 年版)"
    result = excel.import_catalog(io.BytesIO(to_bytes(wb)))
    assert result.created_codes == ["T-1"]


# ------------------------------------------------------------------------------------------ CLI

def test_cli_export_and_import(rich_catalog, tmp_path, capsys):
    path = tmp_path / "catalog.xlsx"
    assert cli.main(["export-catalog", str(path)]) == 0
    assert "已导出 3 个事项" in capsys.readouterr().out

    assert cli.main(["import-catalog", str(path), "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("检查通过(未写入任何数据):共 3 个事项")
    assert cli.main(["import-catalog", str(path)]) == 0
    assert "3 个不变" in capsys.readouterr().out

    wb = openpyxl.load_workbook(path)
    wb["事项"].cell(2, HEADERS.index("承诺时限") + 1, 99)
    wb.save(path)
    assert cli.main(["import-catalog", str(path)]) == 1
    err = capsys.readouterr().err
    assert "导入失败:共 1 行有误,未导入任何事项" in err and "导入失败:导入失败" not in err
    assert "事项!第2行 承诺时限:承诺时限(99 个工作日)不能超过法定时限(20 个工作日)" in err

    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(b"not a workbook")
    assert cli.main(["import-catalog", str(garbage)]) == 1
    assert "不是 Excel 工作簿" in capsys.readouterr().err


def test_item_data_fixture_is_still_what_save_item_takes(departments):
    # guards the helper rows above against drift in the shared fixture
    assert services.clean_item(item_data(departments["market"]))[2] == []
    assert Material.Form.FORM.label == "申请表"
    assert get_column_letter(HEADERS.index("承诺时限") + 1) == "N"


def test_material_errors_point_at_the_material_row(departments):
    materials = [material("M-1", "申请书"), material("M-1", "承诺书", 必要="否", 可容缺="是"), material("M-1", "", 说明="没有名称")]
    err = import_error(new_file([good_row("M-1")], materials))
    assert [(d["row"], d["cell"], d["field"], d["message"]) for d in err.details] == [
        ("申请材料!第3行", "G3", "可容缺", "可容缺:“承诺书”:只有必要材料才能设为容缺后补"),
        ("申请材料!第4行", "B4", "材料名称", "材料名称:第 3 项材料名称不能为空"),
    ]


def test_a_zip_that_unpacks_too_big_is_refused(db, monkeypatch):
    data = new_file([good_row("Z-1")], [material("Z-1")]).getvalue()
    monkeypatch.setattr(xlsx, "MAX_UNCOMPRESSED_BYTES", 1000)
    assert import_error(io.BytesIO(data)).code == "file_too_large"


def test_codes_match_whatever_their_case(make_item):
    item = make_item()
    wb = workbook(export_bytes())
    wb["事项"].cell(2, HEADERS.index("实施编码") + 1, item.code.lower())
    wb["申请材料"].cell(2, 1, item.code.lower())
    result = excel.import_catalog(io.BytesIO(to_bytes(wb)))
    assert (result.created, result.unchanged) == (0, 1)
    assert result.unchanged_codes == [item.code]


def test_departments_sharing_a_name_are_exported_by_uscc(make_item, regions, departments):
    from tests.conftest import make_department

    twin_a = make_department("民政局", regions["chikan"])
    twin_b = make_department("民政局", regions["xiashan"])
    item = make_item(twin_b, level="county")
    data = export_bytes()
    assert rows(workbook(data)["事项"])[0]["实施主体"] == twin_b.uscc
    assert excel.import_catalog(io.BytesIO(data)).unchanged_codes == [item.code]

    err = import_error(new_file([good_row("TWIN-1", department="民政局")], [material("TWIN-1")]))
    assert [(d["row"], d["field"], d["code"]) for d in err.details] == [("事项!第2行", "实施主体", "ambiguous_department")]
    assert err.details[0]["message"] == "实施主体:有多个名为“民政局”的部门,请改填其统一社会信用代码"


def test_a_workbook_with_an_entry_that_escapes_is_refused(db):
    """The import's archive check is the uploads' (core.zipcheck): an entry named like a path out of the
    folder is refused before openpyxl sees the file."""
    data = _zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>", "../../etc/cron.d/x": b"* * * * * root id"})
    err = import_error(io.BytesIO(data))
    assert err.code == "invalid_file" and "不安全" in err.message

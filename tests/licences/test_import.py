"""Bulk import of pre-platform licences from Excel: all rows or none, row/column errors in Chinese."""

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook

from bianmin.core.errors import PermissionDenied, ValidationError
from bianmin.licences import excel, services
from bianmin.licences.models import Licence, LicenceStatus
from bianmin.org.models import Role
from tests.conftest import make_staff

HEADER = ["证照类型", "证照编号", "持证主体", "持证主体代码", "颁证单位", "颁证日期", "有效期起始", "有效期截止", "行政区划代码", "照面信息"]


def xlsx(rows, header=HEADER, title="证照") -> io.BytesIO:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(header)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return buf


@pytest.fixture
def rows(licence_types, departments, holders):
    company, uscc = holders["company"]
    person, rid = holders["person"]
    market = departments["market"]
    return [
        ["spjyxkz", "JY14408020001", company, uscc, market.name, datetime(2023, 4, 1), None, None, None, "经营场所:湛江市赤坎区中山一路1号\n主体业态:餐饮服务经营者"],
        ["营业执照", "91440800MA4W1234", company, uscc, market.uscc, "2019-03-15", None, "长期", None, None],
        ["spjyxkz", "JY14408020002", company, uscc, market.name, date(2015, 6, 1), None, None, "440802", None],
        ["jhz", "J440802-2020-000123", person, rid, departments["chikan_civil"].name, "2020年5月20日", None, None, None, None],
    ]


def test_import_all_rows(rows, departments):
    result = excel.import_licences(xlsx(rows), actor=None)
    assert result.created == 4 and result.expired == 1
    assert result.summary() == ("导入完成:共导入 4 张证照(食品经营许可证 2 张、营业执照 1 张、结婚证 1 张),均已加盖颁证单位电子印章。"
                                "其中 1 张已过有效期,导入后状态为“已过期”。")
    food = Licence.objects.get(number="JY14408020001")
    # 5 years from 2023-04-01: to 2028-03-31
    assert (food.issued_on, food.valid_until, food.status, food.imported) == (date(2023, 4, 1), date(2028, 3, 31), LicenceStatus.VALID, True)
    assert food.surface == {"经营场所": "湛江市赤坎区中山一路1号", "主体业态": "餐饮服务经营者"}
    assert Licence.objects.get(number="91440800MA4W1234").valid_until is None
    old = Licence.objects.get(number="JY14408020002")
    assert (old.valid_until, old.status, old.region_code) == (date(2020, 5, 31), LicenceStatus.EXPIRED, "440802")
    marriage = Licence.objects.get(number="J440802-2020-000123")
    assert marriage.issued_on == date(2020, 5, 20) and marriage.issuer == departments["chikan_civil"]
    assert all(services.verification(lic)["genuine"] for lic in Licence.objects.all())


def test_one_bad_row_imports_nothing_and_says_where(rows, holders):
    rows[1][3] = holders["company"][1][:-1] + ("0" if holders["company"][1][-1] != "0" else "1")  # wrong check character
    rows[2][5] = "2015-13-01"
    rows[3][0] = "不存在的证照"
    with pytest.raises(ValidationError) as exc:
        excel.import_licences(xlsx(rows), actor=None)
    assert exc.value.code == "import_failed"
    assert exc.value.message == "导入失败:共 3 行有误,未导入任何证照"
    places = [(d["row"], d["cell"], d["field"]) for d in exc.value.details]
    assert places == [("证照!第3行", "D3", "持证主体代码"), ("证照!第4行", "F4", "颁证日期"), ("证照!第5行", "A5", "证照类型")]
    assert "统一社会信用代码校验位不符" in exc.value.details[0]["message"]
    assert not Licence.objects.exists()


def test_duplicates_in_the_file_and_in_the_repository(rows):
    excel.import_licences(xlsx(rows[:1]), actor=None)
    with pytest.raises(ValidationError) as exc:
        excel.import_licences(xlsx([rows[0], rows[1], rows[1]]), actor=None)
    messages = {d["row"]: d["message"] for d in exc.value.details}
    assert "已存在" in messages["证照!第2行"]
    assert "与第 3 行的证照类型和编号重复" in messages["证照!第4行"]
    assert Licence.objects.count() == 1


def test_dry_run_writes_nothing(rows):
    result = excel.import_licences(xlsx(rows), actor=None, dry_run=True)
    assert result.dry_run and result.created == 4 and result.summary().startswith("检查通过(未写入任何数据)")
    assert not Licence.objects.exists()


def test_an_approver_imports_only_their_departments_licences(rows, departments, staff):
    approver = make_staff("m_approver", departments["market"], Role.APPROVER)
    with pytest.raises(ValidationError) as exc:
        excel.import_licences(xlsx(rows), actor=approver.user)
    (detail,) = exc.value.details
    assert (detail["row"], detail["field"], detail["code"]) == ("证照!第5行", "颁证单位", "other_department")
    assert excel.import_licences(xlsx(rows[:3]), actor=approver.user).created == 3
    with pytest.raises(PermissionDenied):
        excel.import_licences(xlsx(rows[:1]), actor=staff["market_clerk"].user)


@pytest.mark.parametrize("payload, code", [
    (b"not an excel file", "invalid_file"),
    (b"", "empty_file"),
    (b"PK\x03\x04broken zip", "invalid_file"),
])
def test_bad_files(db, payload, code):
    with pytest.raises(ValidationError) as exc:
        excel.import_licences(io.BytesIO(payload), actor=None)
    assert exc.value.code == code


def test_wrong_layout(db):
    with pytest.raises(ValidationError) as exc:
        excel.import_licences(xlsx([], title="Sheet1"), actor=None)
    assert exc.value.code == "missing_sheet"
    with pytest.raises(ValidationError) as exc:
        excel.import_licences(xlsx([["a", "b"]], header=["证照编号", "持证主体"]), actor=None)
    assert exc.value.code == "missing_header" and "证照类型" in exc.value.message
    with pytest.raises(ValidationError) as exc:
        excel.import_licences(xlsx([]), actor=None)
    assert exc.value.code == "no_rows"


def test_template_and_console_page(client, rows, departments):
    approver = make_staff("m_approver", departments["market"], Role.APPROVER)
    client.force_login(approver.user)
    r = client.get("/console/licences/import/template.xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    assert [c.value for c in wb["证照"][1]] == HEADER
    with pytest.raises(ValidationError):  # the empty template imports nothing
        excel.import_licences(io.BytesIO(r.content), actor=None)
    r = client.post("/console/licences/import/", {"file": _upload(xlsx(rows[:3])), "dry_run": "1"})
    assert r.status_code == 200 and "检查通过" in r.content.decode() and not Licence.objects.exists()
    r = client.post("/console/licences/import/", {"file": _upload(xlsx(rows))})
    assert r.status_code == 400 and "只能导入本部门颁发的证照" in r.content.decode()
    r = client.post("/console/licences/import/", {"file": _upload(xlsx(rows[:3]))})
    assert r.status_code == 200 and "导入完成" in r.content.decode()
    assert Licence.objects.count() == 3
    assert client.post("/console/licences/import/", {}).status_code == 400


def _upload(buf):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("licences.xlsx", buf.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def test_cli_import(rows, tmp_path, capsys):
    from bianmin import cli

    path = tmp_path / "licences.xlsx"
    path.write_bytes(xlsx(rows).getvalue())
    assert cli.main(["import-licences", str(path), "--dry-run"]) == 0
    assert "检查通过" in capsys.readouterr().out and not Licence.objects.exists()
    assert cli.main(["import-licences", str(path)]) == 0
    assert Licence.objects.count() == 4
    assert cli.main(["import-licences", str(path)]) == 1  # the same numbers again
    assert "已存在" in capsys.readouterr().err

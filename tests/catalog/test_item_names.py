"""Issue 11.7: an item name starting with = + - @ would be a formula in the spreadsheets the catalog is
exported to; save_item refuses it (code formula_prefix) for every caller: the console form, the Excel import."""

import pytest

from bianmin.catalog.models import ServiceItem
from tests.catalog.test_console import BASE, form_post, login
from tests.catalog.test_excel import HEADERS, good_row, import_error, material, new_file

MESSAGE = "事项名称不能以 = + - @ 开头(在 Excel 等表格软件中会被当作公式)"


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x.example\",\"办理\")", "+1 食品经营许可", "-食品经营许可", "@SUM(A1)"])
def test_the_console_form_refuses_a_formula_name(client, staff, departments, name):
    login(client, staff["market_admin"])
    response = client.post(f"{BASE}/new/", form_post(departments["market"], name=name,
                                                      materials=[{"name": "申请书", "required": "on"}]))
    assert response.status_code == 400
    assert f'id="id_name_error">事项名称:{MESSAGE}</p>' in response.content.decode()
    assert not ServiceItem.objects.exists()


def test_a_formula_sign_inside_the_name_is_fine(client, staff, departments):
    login(client, staff["market_admin"])
    response = client.post(f"{BASE}/new/", form_post(departments["market"], name="食品经营许可(A=1类)-核发",
                                                      materials=[{"name": "申请书", "required": "on"}]))
    assert response.status_code == 302
    assert ServiceItem.objects.get().name == "食品经营许可(A=1类)-核发"


def test_the_excel_import_refuses_a_formula_name_by_row_and_changes_nothing(departments):
    import io

    import openpyxl

    items = [good_row("OK-001"), good_row("BAD-001"), good_row("BAD-002", 事项名称="@食品"), good_row("BAD-003", 事项名称="-食品")]
    wb = openpyxl.load_workbook(new_file(items, [material(c) for c in ("OK-001", "BAD-001", "BAD-002", "BAD-003")]))
    column = chr(ord("A") + HEADERS.index("事项名称"))
    cell = wb["事项"][f"{column}3"]
    cell.value, cell.data_type = "=1+1", "s"  # typed as text ('=1+1 in Excel): a formula once exported
    buf = io.BytesIO()
    wb.save(buf)
    err = import_error(io.BytesIO(buf.getvalue()))
    assert [(d["row"], d["cell"], d["code"], d["message"]) for d in err.details] == [
        (f"事项!第{n}行", f"{column}{n}", "formula_prefix", f"事项名称:{MESSAGE}") for n in (3, 4, 5)
    ]
    assert not ServiceItem.objects.exists()

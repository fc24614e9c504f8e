"""core.xlsx: exports never write a formula (issue 11.7), imports read it back unchanged, and one
reading of the yes/no words every import accepts."""

import io

import pytest
from openpyxl import Workbook, load_workbook

from bianmin.core import xlsx

COLUMNS = [xlsx.Column("名称", "name"), xlsx.Column("数量", "n")]


def _written(rows) -> bytes:
    wb = Workbook(write_only=True)
    ws = xlsx.add_sheet(wb, "表", COLUMNS)
    for row in rows:
        xlsx.append_row(ws, COLUMNS, row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_text_that_looks_like_a_formula_is_written_as_text_with_an_apostrophe():
    values = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+86 138 0000 0000", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1",
              "湛江市=海鲜", "普通文本"]
    data = _written([{"name": v, "n": -5} for v in values])
    ws = load_workbook(io.BytesIO(data))["表"]  # the full reader: it would report formulas as data_type "f"
    cells = [(ws.cell(row=r, column=1).value, ws.cell(row=r, column=1).data_type) for r in range(2, 2 + len(values))]
    assert cells == [
        ("'=HYPERLINK(\"http://evil.example\",\"点我\")", "s"), ("'+86 138 0000 0000", "s"), ("'-2+3", "s"),
        ("'@SUM(A1:A9)", "s"), ("'\t=1", "s"), ("'\n=1", "s"), ("湛江市=海鲜", "s"), ("普通文本", "s"),
    ]
    # (XML reads a stored \r back as \n)
    assert all(ws.cell(row=r, column=2).value == -5 for r in range(2, 2 + len(values)))  # numbers stay numbers
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)


def test_the_import_reads_the_escaped_text_back_as_it_was():
    data = _written([{"name": "=1+1 食品经营许可", "n": 1}, {"name": "'普通的撇号", "n": 2}])
    rows = xlsx.read_sheet(xlsx.open_workbook(data), "表", COLUMNS, 10, key_header="名称")
    assert [xlsx.text(r.values["name"]) for r in rows] == ["=1+1 食品经营许可", "'普通的撇号"]


@pytest.mark.parametrize("word, answer", [
    ("是", True), ("否", False), ("Y", True), ("n", False), (" YES ", True), ("No", False), ("true", True),
    ("FALSE", False), ("1", True), ("0", False), (1, True), (0.0, False), (True, True), ("√", True), ("×", False),
    ("有", True), ("无", False), ("不是", False), ("也许", None), ("", None), (None, None), (2, None),
])
def test_yes_no_words(word, answer):
    assert xlsx.yes_no(word) is answer


def test_a_cell_that_is_no_yes_no_word_is_a_cell_error():
    with pytest.raises(xlsx.CellError) as refused:
        xlsx.boolean("也许")
    assert (refused.value.code, refused.value.message) == ("not_yes_no", "应填“是”或“否”,收到“也许”")

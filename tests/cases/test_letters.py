"""The decision letter: a real PDF with CJK text that says who, what, the decision, its legal basis,
and for a denial the way to appeal. The text is checked with pdftotext (poppler-utils) or pypdf."""

import os
import shutil
import subprocess
from datetime import date, datetime
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest
from django.conf import settings

from bianmin.cases import clock, letters, services
from bianmin.core.errors import Conflict
from bianmin.org.models import Department


@pytest.fixture
def item(make_item):
    return make_item(audience="both", result_name="食品经营许可证")


def decided(people, item, approved, monkeypatch, reasons="经营场所、设备设施符合《食品安全法》规定的条件"):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 9, 28))
    monkeypatch.setattr(services, "_now", lambda: datetime(2026, 9, 28, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")))
    materials = {m.pk: {"at_window": True} for m in item.materials.all()}
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], materials=materials)
    case = services.accept_case(case, actor=people["clerk"].user)
    services.complete_task(case.tasks.get(), actor=people["reviewer"].user, opinion="同意")
    return services.decide_case(case, actor=people["approver"].user, approved=approved, reasons=reasons)


def pdf_text(pdf: bytes, tmp_path) -> str:
    if shutil.which("pdftotext"):
        path = tmp_path / "letter.pdf"
        path.write_bytes(pdf)
        return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True).stdout
    try:
        import io

        from pypdf import PdfReader
    except ImportError:
        pytest.skip("neither pdftotext (poppler-utils) nor pypdf is installed: cannot read the PDF's text")
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def flat(text: str) -> str:
    return "".join(text.split())


def test_approval_letter(people, item, monkeypatch, tmp_path):
    case = decided(people, item, True, monkeypatch)
    pdf = letters.decision_letter_pdf(case)
    assert pdf.startswith(b"%PDF")
    text = flat(pdf_text(pdf, tmp_path))
    for words in ("准予行政许可决定书", "张三：", "你于2026年9月28日提出的食品经营许可证核发申请", f"办件编号：{case.number}", "本机关决定准予行政许可",
                  "《中华人民共和国食品安全法》第三十五条", "湛江市市场监督管理局", "2026年9月28日", "办理结果为：食品经营许可证",
                  "湛市监许〔2026〕0928000001号"):
        assert words in text, words
    assert "行政复议" not in text
    if os.environ.get("BIANMIN_SCREENSHOTS") and shutil.which("pdftoppm"):
        out = Path(settings.VAR_DIR) / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        (tmp_path / "letter.pdf").write_bytes(pdf)
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(tmp_path / "letter.pdf"), str(out / "decision-letter")],
                       check=True)


def test_denial_letter_tells_how_to_appeal(people, item, monkeypatch, tmp_path):
    case = decided(people, item, False, monkeypatch, reasons="经现场核查，经营场所与申请材料不符，且未设置食品安全管理人员")
    text = flat(pdf_text(letters.decision_letter_pdf(case), tmp_path))
    for words in ("不予行政许可决定书", "张三：", "理由如下：经现场核查，经营场所与申请材料不符", "本机关决定不予行政许可",
                  "六十日内向湛江市人民政府申请行政复议", "六个月内依法向人民法院提起行政诉讼"):
        assert words in text, words


def test_other_kinds_get_a_result_notice(people, make_item, monkeypatch, tmp_path):
    item = make_item(kind="public_service", name="食品小作坊登记信息查询", audience="both", legal_basis="《广东省食品生产加工小作坊和食品摊贩管理条例》")
    case = decided(people, item, True, monkeypatch)
    text = flat(pdf_text(letters.decision_letter_pdf(case), tmp_path))
    assert "办理结果通知书" in text and "本机关决定予以办理" in text and "湛市监办〔2026〕" in text
    assert "准予行政许可" not in text


def test_a_legal_person_is_addressed_as_a_unit(people, item, monkeypatch, tmp_path):
    from bianmin.core.identities import uscc_with_check

    company = services.register_applicant(kind="legal_person", name="湛江市海鲜餐饮有限公司",
                                          id_number=uscc_with_check("91440800MA4W00001"), phone="13900000000")
    monkeypatch.setattr(clock, "today", lambda: date(2026, 9, 28))
    materials = {m.pk: {"at_window": True} for m in item.materials.all()}
    case = services.submit_application(applicant=company, item=item, actor=people["clerk"].user, channel="window", materials=materials)
    case = services.accept_case(case, actor=people["clerk"].user)
    services.complete_task(case.tasks.get(), actor=people["reviewer"].user, opinion="同意")
    case = services.decide_case(case, actor=people["approver"].user, approved=True, reasons="符合条件")
    text = flat(pdf_text(letters.decision_letter_pdf(case), tmp_path))
    assert "湛江市海鲜餐饮有限公司：" in text and "你单位于" in text and "提出的食品经营许可证核发申请" in text
    assert company.id_number not in text


def test_no_letter_before_a_decision(people, item):
    materials = {m.pk: {"at_window": True} for m in item.materials.all()}
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], materials=materials)
    with pytest.raises(Conflict) as exc:
        letters.decision_letter_pdf(case)
    assert exc.value.code == "not_decided"


@pytest.mark.parametrize("name,region,expected", [
    ("湛江市市场监督管理局", "city", "湛市监"),
    ("湛江市赤坎区民政局", "chikan", "赤民"),
    ("湛江市住房和城乡建设局", "city", "湛住建"),
    ("湛江市港航事务中心", "city", "湛港航"),
])
def test_department_abbreviation(regions, name, region, expected):
    dept = Department(name=name, region=regions[region])
    assert letters.department_abbreviation(dept) == expected


def test_reconsideration_body(regions):
    assert letters.reconsideration_body(Department(name="x", region=regions["city"])) == "湛江市人民政府"
    assert letters.reconsideration_body(Department(name="x", region=regions["chikan"])) == "湛江市赤坎区人民政府"

"""The licence verification page in a real browser (desktop and phone, keyboard), and the licence PDF
rendered to an image. Screenshots go to ./var/screenshots/ for a human to look at."""

from __future__ import annotations

import subprocess

import pytest

from bianmin.licences import documents, services
from bianmin.org.models import Role
from tests.conftest import make_staff
from tests.e2e.conftest import NO_OVERFLOW_JS
from tests.licences.conftest import holders, licence_types  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def licence(licence_types, departments, holders):
    company, uscc = holders["company"]
    return services.issue_licence(licence_type=licence_types["spjyxkz"], holder_name=company, holder_id_number=uscc,
                                  issuer=departments["market"],
                                  surface={"经营场所": "湛江市赤坎区中山一路1号", "主体业态": "餐饮服务经营者", "经营项目": "热食类食品制售"})


def test_verify_by_typing_the_identifier_then_revoked(chromium, desktop, phone, live_server, licence, departments, screenshots):
    page = desktop
    page.goto(f"{live_server.url}/licences/verify/")
    page.get_by_label("证照标识").fill(licence.identifier.lower())  # pasted in lower case: still found
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/licences/verify/{licence.identifier}/")
    assert page.locator("h2#verdict-title").inner_text() == "真实有效"
    assert "湛江市海鲜餐饮有限公司" in page.content()
    page.screenshot(path=str(screenshots / "licence-verify-desktop.png"), full_page=True)

    phone.goto(f"{live_server.url}/licences/verify/{licence.identifier}/")
    assert phone.evaluate(NO_OVERFLOW_JS) <= 0  # nothing wider than a phone
    phone.screenshot(path=str(screenshots / "licence-verify-phone.png"), full_page=True)

    approver = make_staff("m_approver", departments["market"], Role.APPROVER)
    services.revoke_licence(licence, "经营者申请注销", approver.user)
    page.reload()
    assert page.locator("h2#verdict-title").inner_text() == "已注销"
    page.screenshot(path=str(screenshots / "licence-verify-revoked.png"), full_page=True)


def test_bad_identifier_is_explained(chromium, desktop, live_server, db):
    desktop.goto(f"{live_server.url}/licences/verify/")
    desktop.get_by_label("证照标识").fill("1.2.156.3005.2.ABC")
    desktop.get_by_role("button", name="核验").click()
    assert "证照标识格式不正确" in desktop.locator("[role=alert]").inner_text()
    assert desktop.get_by_label("证照标识").get_attribute("aria-invalid") == "true"


def test_licence_pdf_rendered(licence, screenshots, tmp_path):
    pdf = tmp_path / "licence.pdf"
    pdf.write_bytes(documents.licence_pdf(licence, base_url="https://zwfw.zhanjiang.example"))
    subprocess.run(["pdftoppm", "-r", "80", "-png", "-singlefile", str(pdf), str(screenshots / "licence-pdf")], check=True)
    assert (screenshots / "licence-pdf.png").stat().st_size > 10_000

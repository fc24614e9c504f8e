"""The applicant's files on the console's case page in a real browser (issue 12.1): the clerk opens the
case, sees each material's state and a link per file, follows the image's link and the picture is shown
(inline, under the sandboxing Content-Security-Policy). Screenshot: var/screenshots/console-case-files-desktop.png.

Data is created through the services (live_server needs transactional_db)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bianmin.cases import files, services
from tests.cases.test_files import image_bytes, ofd, tiny_pdf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Bianmin!2026"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()


def _upload(people, name, content):
    return files.store_upload(people["citizen"], SimpleUploadedFile(name, content), actor=people["citizen_user"])


def test_clerk_opens_the_applicants_image_from_the_case_page(live_server, people, make_item, desktop, screenshots):
    item = make_item(name="食品经营许可证核发", audience="both")
    application, licence, rules = item.materials.order_by("pk")
    png = _upload(people, "营业执照.png", image_bytes("PNG", size=(320, 200), colour=(200, 30, 30)))
    pdf = _upload(people, "申请书.pdf", tiny_pdf("shenqingshu"))
    doc = _upload(people, "食品安全管理制度.ofd", ofd())
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], materials={
        application.pk: {"files": [pdf.pk]}, licence.pk: {"files": [png.pk]}, rules.pk: {"files": [doc.pk]}})

    base, page = live_server.url, desktop
    path = f"/console/cases/{case.number}/"
    page.goto(f"{base}/console/login/?next={path}")
    page.get_by_label("用户名").fill("clerk")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}{path}")

    materials = page.locator("section", has=page.get_by_role("heading", name="申请材料"))
    row = materials.get_by_role("row", name=re.compile("^营业执照"))
    assert row.locator(".tag").inner_text() == "已提交"
    link = row.get_by_role("link", name=re.compile(r"^查看 营业执照\.png（PNG，\d+ (字节|KB)）$"))
    assert link.count() == 1
    assert materials.get_by_role("link", name=re.compile(r"^查看 申请书\.pdf（PDF，")).count() == 1
    assert materials.get_by_role("link", name=re.compile(r"^下载 食品安全管理制度\.ofd（OFD，")).get_attribute("download") == ""
    materials.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "console-case-files-desktop.png"), full_page=True)

    with page.expect_response(lambda r: r.url.endswith(f"/console/cases/files/{png.pk}/")) as served:
        link.click()
    response = served.value
    assert response.status == 200
    headers = response.all_headers()
    assert headers["content-type"] == "image/png" and headers["content-disposition"].startswith("inline;")
    assert "sandbox" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"
    page.wait_for_url(f"{base}/console/cases/files/{png.pk}/")
    image = page.locator("img")
    image.wait_for()
    # the browser decoded the picture: its own size, not a broken-image icon
    assert page.evaluate("() => { const i = document.images[0]; return [i.complete, i.naturalWidth, i.naturalHeight]; }") == [
        True, 320, 200]
    page.screenshot(path=str(screenshots / "console-case-file-image-desktop.png"))

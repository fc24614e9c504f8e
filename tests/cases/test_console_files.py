"""The applicant's files on the staff console's case page (issue 12.1): each file a member of staff may
see is a link under its material, served by the console's file view through `files.open_for` (the one
rule): images and PDFs inline and sandboxed, OFD as a download; everyone else 404 (or the console's
own answer to applicants and anonymous visitors). The page's query count does not grow with the files."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from bianmin.cases import files, services
from bianmin.core.storage import files_storage
from bianmin.org.models import Role
from tests.cases.test_files import image_bytes, ofd, tiny_pdf
from tests.conftest import make_staff

BASE = "/console/cases/"
SANDBOX = "default-src 'none'; sandbox"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    return settings.MEDIA_ROOT


def upload(people, name, content):
    return files.store_upload(people["citizen"], SimpleUploadedFile(name, content), actor=people["citizen_user"])


def stored_bytes(record) -> bytes:
    with files_storage().open(record.path, "rb") as fh:
        return fh.read()


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def item(make_item):
    # three materials: 食品经营许可申请书, 营业执照, 食品安全管理制度文本 (tests/conftest.item_data)
    return make_item(audience="both")


@pytest.fixture
def case_files(people, item):
    """An online case accepted at the city hall, with a PNG, a PDF and an OFD, one under each material."""
    png = upload(people, "营业执照.png", image_bytes("PNG", size=(60, 40)))
    pdf = upload(people, "申请书.pdf", tiny_pdf("shenqingshu"))
    doc = upload(people, "管理制度.ofd", ofd())
    by_material = dict(zip(item.materials.order_by("pk").values_list("pk", flat=True), (pdf, png, doc)))
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                       materials={pk: {"files": [f.pk]} for pk, f in by_material.items()})
    case = services.accept_case(case, actor=people["clerk"].user)
    for f in (png, pdf, doc):
        f.refresh_from_db()
    return case, {"png": png, "pdf": pdf, "ofd": doc}


def url(f) -> str:
    return f"{BASE}files/{f.pk}/"


@pytest.fixture
def hall_clerk(people, departments, halls):
    """A clerk of another department at the comprehensive window of the accepting hall."""
    return make_staff("hall_clerk", departments["police"], Role.CLERK, hall=halls["city"], window=people["window"])


# ------------------------------------------------------------------------------------------ who opens what

@pytest.mark.parametrize("who", ["clerk", "hall_clerk", "reviewer", "approver"])
def test_the_cases_staff_open_images_and_pdfs_inline(people, case_files, hall_clerk, who):
    _case, f = case_files
    staff = hall_clerk if who == "hall_clerk" else people[who]
    c = as_user(staff.user)
    for kind, content_type, name in (("png", "image/png", "营业执照.png"), ("pdf", "application/pdf", "申请书.pdf")):
        r = c.get(url(f[kind]))
        assert r.status_code == 200, (who, kind)
        assert r["Content-Type"] == content_type
        assert r["Content-Disposition"] == f"inline; filename*=utf-8''{quote(name)}"
        assert r["X-Content-Type-Options"] == "nosniff"
        assert r["Content-Security-Policy"] == SANDBOX
        assert r["Cache-Control"] == "private, no-store"
        assert body(r) == stored_bytes(f[kind])
    assert body(c.get(url(f["png"])))[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_ofd_comes_as_a_download(people, case_files):
    _case, f = case_files
    r = as_user(people["reviewer"].user).get(url(f["ofd"]))
    assert r.status_code == 200
    assert r["Content-Type"] == "application/ofd"
    assert r["Content-Disposition"] == f"attachment; filename*=utf-8''{quote('管理制度.ofd')}"
    assert (r["X-Content-Type-Options"], r["Content-Security-Policy"]) == ("nosniff", SANDBOX)
    assert body(r) == stored_bytes(f["ofd"])


def test_a_name_with_quotes_is_a_safe_filename(people, case_files):
    """The label is the cleaned name; an ASCII one with a quote is escaped, never ends the header's value."""
    _case, f = case_files
    from bianmin.cases.models import UploadedFile

    UploadedFile.objects.filter(pk=f["pdf"].pk).update(original_name='a"b\r\nSet-Cookie: x=1.pdf')
    r = as_user(people["clerk"].user).get(url(f["pdf"]))
    assert r.status_code == 200
    assert r["Content-Disposition"] == 'inline; filename="a\\"bSet-Cookie: x=1.pdf"'
    assert "Set-Cookie" not in {k for k, _v in r.items()}


def test_staff_who_may_not_see_the_case_get_404(people, departments, case_files):
    _case, f = case_files
    refused = {
        "police reviewer": people["police_reviewer"].user,
        "catalog admin of the case's department": make_staff("market_catalog", departments["market"], Role.CATALOG_ADMIN).user,
        "clerk of another department, no hall": make_staff("police_clerk", departments["police"], Role.CLERK).user,
    }
    for who, user in refused.items():
        c = as_user(user)
        for record in f.values():
            r = c.get(url(record))
            assert r.status_code == 404, who
            assert b"%PDF" not in r.content and b"PNG" not in r.content


def test_applicants_and_anonymous_get_what_the_console_gives_them(people, case_files):
    """The owner too: their own download is /files/<id>/, the console's URL is for staff."""
    case, f = case_files
    owner = as_user(people["citizen_user"])
    r, page = owner.get(url(f["pdf"])), owner.get(f"{BASE}{case.number}/")
    assert r.status_code == page.status_code and r.status_code in (403, 404)
    assert b"%PDF" not in r.content
    assert owner.get(f"/files/{f['pdf'].pk}/").status_code == 200  # the applicant's own door still opens
    other = as_user(people["other_user"])
    assert other.get(url(f["png"])).status_code == page.status_code
    anonymous = Client().get(url(f["png"]))
    assert anonymous.status_code == 302 and anonymous["Location"] == f"/console/login/?next={quote(url(f['png']))}"


def test_a_bogus_id_is_404(people, case_files):
    _case, f = case_files
    c = as_user(people["clerk"].user)
    biggest = max(x.pk for x in f.values())
    for path in (f"{BASE}files/{biggest + 1000}/", f"{BASE}files/0/", f"{BASE}files/{2**64}/", f"{BASE}files/99999999999999999999999/"):
        assert c.get(path).status_code == 404, path
    assert c.get(f"{BASE}files/abc/").status_code in (404, 405)  # no such URL for GET
    assert c.post(url(f["png"])).status_code == 405


def test_a_file_not_part_of_any_case_is_404_for_staff(people):
    draft = upload(people, "草稿.png", image_bytes("PNG"))
    for staff in ("clerk", "reviewer", "approver"):
        assert as_user(people[staff].user).get(url(draft)).status_code == 404
    admin = make_staff("sysadmin", people["reviewer"].department, Role.ADMIN)
    assert as_user(admin.user).get(url(draft)).status_code == 404


# ------------------------------------------------------------------------------------------ the case page

def test_the_case_page_links_every_file_under_its_material_with_its_state(people, case_files):
    case, f = case_files
    html = as_user(people["reviewer"].user).get(f"{BASE}{case.number}/").content.decode()
    png_size = f"{round(f['png'].size / 1024)} KB" if f["png"].size >= 1024 else f"{f['png'].size} 字节"
    assert f'<a href="/console/cases/files/{f["png"].pk}/">查看 营业执照.png（PNG，{png_size}）</a>' in html
    assert f'<a href="/console/cases/files/{f["pdf"].pk}/">查看 申请书.pdf（PDF，' in html
    assert f'<a href="/console/cases/files/{f["ofd"].pk}/" download>下载 管理制度.ofd（OFD，' in html
    # each link in its material's row, after the material's state
    for material, record in (("食品经营许可申请书", f["pdf"]), ("营业执照", f["png"]), ("食品安全管理制度文本", f["ofd"])):
        row = html[html.index(f'<th scope="row">{material}</th>'):]
        row = row[:row.index("</tr>")]
        assert '<span class="tag mat-provided">已提交</span>' in row
        assert f"/console/cases/files/{record.pk}/" in row
    assert html.count("/console/cases/files/") == 3


def test_a_material_without_a_file_says_so(people, item):
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                       materials={m.pk: {"at_window": True} for m in item.materials.all()})
    html = as_user(people["clerk"].user).get(f"{BASE}{case.number}/").content.decode()
    assert "/console/cases/files/" not in html and html.count(">未上传</td>") == 3


def test_size_labels():
    from bianmin.cases.console_views import _size_label

    assert [_size_label(n) for n in (0, 1023, 1024, 12 * 1024 + 600, 1024 * 1024, 5 * 1024 * 1024 + 104858)] == [
        "0 字节", "1023 字节", "1 KB", "13 KB", "1.0 MB", "5.1 MB"]


def _case_with(people, make_item, n: int):
    """A case of an item with n materials, each with n files (1×1 or 3×3)."""
    materials = [{"name": f"材料{i}", "required": True} for i in range(n)]
    item = make_item(audience="both", materials=materials)
    spec = {m.pk: {"files": [upload(people, f"m{m.pk}-{j}.png", image_bytes("PNG")).pk for j in range(n)]}
            for m in item.materials.all()}
    return services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], materials=spec)


def test_the_case_pages_query_count_does_not_grow_with_the_files(people, make_item, django_assert_max_num_queries):
    small, large = _case_with(people, make_item, 1), _case_with(people, make_item, 3)
    c = as_user(people["clerk"].user)
    c.get(f"{BASE}{small.number}/")  # warm the per-process caches (calendar, session)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert c.get(f"{BASE}{small.number}/").content.decode().count("/console/cases/files/") == 1
    with django_assert_max_num_queries(len(one)):
        assert c.get(f"{BASE}{large.number}/").content.decode().count("/console/cases/files/") == 9
    with django_assert_max_num_queries(len(one)):
        c.get(f"{BASE}{small.number}/")

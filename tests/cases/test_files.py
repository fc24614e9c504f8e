"""Uploads: type by content (not by name), size limits, storage outside the web root under a random
name, the user's file name kept only as cleaned metadata, and downloads only for who may see them."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile as DjangoUploadedFile
from django.utils import timezone

from bianmin.cases import files, services
from bianmin.cases.models import UploadedFile
from bianmin.core.errors import NotFound, PermissionDenied, ValidationError
from bianmin.org.models import Role
from tests.conftest import make_staff


def tiny_png() -> bytes:
    """A real 1x1 white PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b""))


def tiny_pdf(text: str = "bianmin") -> bytes:
    """A small, real one-page PDF."""
    stream = f"BT /F1 12 Tf 20 40 Td ({text}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    return out.getvalue()


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run in DOS mode."


def ofd(with_root=True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        if with_root:
            z.writestr("OFD.xml", '<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0"/>')
        z.writestr("Doc_0/Document.xml", "<ofd:Document/>")
    return buf.getvalue()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"
    return settings.MEDIA_ROOT


def upload(people, name, content, **kw):
    return files.store_upload(people["citizen"], SimpleUploadedFile(name, content), actor=people["citizen_user"], **kw)


def test_pdf_stored_with_hash_size_and_random_name(people, media):
    data = tiny_pdf()
    f = upload(people, "营业执照.pdf", data)
    today = timezone.localdate()
    assert f.content_type == "application/pdf"
    assert f.size == len(data)
    assert f.sha256 == hashlib.sha256(data).hexdigest()
    assert f.original_name == "营业执照.pdf"
    assert f.owner == people["citizen"] and f.uploaded_by == people["citizen_user"]
    folder, name = f.path.rsplit("/", 1)
    assert folder == f"uploads/{today:%Y}/{today:%m}"
    assert len(name) == len("0" * 32 + ".pdf") and name.endswith(".pdf") and "营业执照" not in f.path
    stored = Path(media) / f.path
    assert stored.read_bytes() == data


def test_type_comes_from_content_not_name(people):
    png = upload(people, "scan.pdf", tiny_png())
    assert png.content_type == "image/png" and png.path.endswith(".png")
    assert png.original_name == "scan.pdf"  # metadata only
    jpg = upload(people, "photo.png", JPEG)
    assert jpg.content_type == "image/jpeg" and jpg.path.endswith(".jpg")
    o = upload(people, "licence.zip", ofd())
    assert o.content_type == "application/ofd" and o.path.endswith(".ofd")


@pytest.mark.parametrize("name,content", [
    ("setup.pdf", EXE),                          # an .exe renamed .pdf
    ("page.pdf", b"<html><script>alert(1)</script></html>"),
    ("archive.ofd", ofd(with_root=False)),       # a zip, but not an OFD
    ("broken.ofd", b"PK\x03\x04" + b"\x00" * 100),  # zip magic, no zip
    ("notes.pdf", b" %PDF-1.4 leading space"),
])
def test_other_content_refused(people, media, name, content):
    with pytest.raises(ValidationError) as e:
        upload(people, name, content)
    assert e.value.code == "file_type_not_allowed"
    assert "PDF、JPG、PNG 或 OFD" in e.value.message
    assert not UploadedFile.objects.exists()
    assert not (Path(media) / "uploads").exists() or not any((Path(media) / "uploads").rglob("*.*"))


def test_empty_file_refused(people):
    with pytest.raises(ValidationError) as e:
        upload(people, "empty.pdf", b"")
    assert e.value.code == "file_empty" and "空" in e.value.message


def _sparse(tmp_path, size: int, head: bytes = b"%PDF-1.4\n") -> Path:
    """A file of `size` bytes that takes no disk space beyond its first block."""
    p = tmp_path / "big.bin"
    with open(p, "wb") as fh:
        fh.write(head)
        fh.seek(size - 1)
        fh.write(b"\n")
    return p


def test_over_20_mb_refused_without_reading_it(people, tmp_path, media):
    limit = 20 * 1024 * 1024
    p = _sparse(tmp_path, limit + 1)
    with open(p, "rb") as fh:
        with pytest.raises(ValidationError) as e:
            files.store_upload(people["citizen"], DjangoUploadedFile(fh, name="big.pdf", size=limit + 1), actor=people["citizen_user"])
    assert e.value.code == "file_too_large" and "20 MB" in e.value.message
    # a client that lies about the size is stopped while the file is written, and nothing stays behind
    with open(p, "rb") as fh:
        with pytest.raises(ValidationError) as e:
            files.store_upload(people["citizen"], DjangoUploadedFile(fh, name="big.pdf", size=1000), actor=people["citizen_user"])
    assert e.value.code == "file_too_large"
    assert not UploadedFile.objects.exists()
    assert not any((Path(media) / "uploads").rglob("*.pdf"))
    # exactly 20 MB is allowed
    p = _sparse(tmp_path, limit)
    with open(p, "rb") as fh:
        f = files.store_upload(people["citizen"], DjangoUploadedFile(fh, name="max.pdf", size=limit), actor=people["citizen_user"])
    assert f.size == limit


@pytest.mark.parametrize("name,kept", [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
    ("/var/www/html/shell.pdf", "shell.pdf"),
    ("a\x00b\r\n\u202egpj.pdf", "abgpj.pdf"),      # NUL, CR/LF and a right-to-left override removed
    (" . ", "材料.pdf"),
    ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
])
def test_path_traversal_in_names_is_harmless(people, media, name, kept):
    f = upload(people, name, tiny_pdf())
    assert f.original_name == kept
    target = (Path(media) / f.path).resolve()
    assert (Path(media) / "uploads").resolve() in target.parents and target.is_file()
    assert ".." not in f.path and "passwd" not in f.path and "evil" not in f.path


def test_only_the_owner_or_staff_upload(people):
    with pytest.raises(PermissionDenied):
        files.store_upload(people["other"], SimpleUploadedFile("a.pdf", tiny_pdf()), actor=people["citizen_user"])
    f = files.store_upload(people["citizen"], SimpleUploadedFile("a.pdf", tiny_pdf()), actor=people["clerk"].user)
    assert f.uploaded_by == people["clerk"].user


@pytest.fixture
def case_with_file(people, make_item):
    item = make_item(audience="both")
    f = upload(people, "申请书.pdf", tiny_pdf())
    materials = {m.pk: {"files": [f.pk]} if i == 0 else {"at_window": True} for i, m in enumerate(item.materials.all())}
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], materials=materials)
    f.refresh_from_db()
    return case, f


def test_open_for_owner_and_staff_who_see_the_case(people, departments, case_with_file):
    case, f = case_with_file
    assert f.case_material.case == case
    record, path = files.open_for(people["citizen_user"], f.pk)
    assert record == f and path.read_bytes()[:5] == b"%PDF-"
    assert files.open_for(people["reviewer"].user, f.pk)[0] == f           # the case's department
    assert files.open_for(people["clerk"].user, str(f.pk))[0] == f         # the clerk of the market department
    police_clerk = make_staff("police_clerk", departments["police"], Role.CLERK)
    from django.contrib.auth.models import AnonymousUser
    for user in (people["other_user"], people["police_reviewer"].user, police_clerk.user, AnonymousUser(), None):
        with pytest.raises(NotFound):
            files.open_for(user, f.pk)
    for bad in (f.pk + 1000, 0, -1, 2**64, "abc", None):
        with pytest.raises(NotFound):
            files.open_for(people["citizen_user"], bad)


def test_unattached_file_only_for_its_owner(people):
    f = upload(people, "draft.png", tiny_png())
    assert files.open_for(people["citizen_user"], f.pk)[0] == f
    with pytest.raises(NotFound):
        files.open_for(people["reviewer"].user, f.pk)


def test_a_tampered_path_is_never_served(people):
    f = upload(people, "a.pdf", tiny_pdf())
    UploadedFile.objects.filter(pk=f.pk).update(path="../../../../etc/passwd")
    with pytest.raises(NotFound):
        files.open_for(people["citizen_user"], f.pk)

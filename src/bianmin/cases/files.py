"""Uploaded files: checked by content and structure (never by name), kept in the platform's storage
(`core.storage`: the local folder or an S3 bucket shared by every app machine) under a name of ours,
handed out only to the applicant who owns them or to staff who may see their case (issue 11.3, 10.10).

Accepted: PDF, JPEG, PNG and OFD (GB/T 33190: a zip whose entries include OFD.xml), 1 byte to 20 MB.

- Images are decoded with Pillow and encoded again: what is stored is the picture only, without
  data appended after it (a zip behind a PNG), EXIF (GPS position, camera) or text chunks; a
  rotated phone photo is turned upright first. Images over MAX_PIXELS are refused before decoding.
- PDFs are parsed with pypdf and refused when they do not parse, have no page, are encrypted with
  a password, or carry active content (JavaScript, automatic actions, launching programs, embedded
  files, RichMedia, XFA forms): `pdf_active_content`.
- OFD files pass `core.zipcheck.check_zip` (entry count, total size, compression ratio, entry names,
  CRCs) and must hold OFD.xml.

The user's file name never reaches the storage; it is kept, cleaned and with the extension of the
type we found, as the label shown on pages and given to downloads. Downloads are attachments, except
images and PDFs the staff console shows inline (`opens_inline`), always with `X-Content-Type-Options:
nosniff` and a sandboxing Content-Security-Policy. `sweep` (cases.tasks.sweep_files, from `bianmin tick` and
Celery beat) removes stored files that no row names and temporary upload files a killed worker left.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import time as _time
import unicodedata
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files import File
from django.http import FileResponse
from django.utils import timezone

from bianmin.core import zipcheck
from bianmin.core import workdays
from bianmin.core.errors import NotFound, PermissionDenied, ValidationError
from bianmin.core.storage import files_storage, walk
from bianmin.org.models import Role

from .models import Applicant, UploadedFile

MAX_SIZE = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000          # an A4 page scanned at 600 dpi is 35 million pixels
MAX_PDF_OBJECTS = 200_000
MAX_PDF_DEPTH = 64
PDF_CHECK_SECONDS = 10
OFD_MAX_TOTAL = 200 * 1024 * 1024
OFD_MAX_ENTRIES = 10_000
JPEG_QUALITY = 90
ORPHAN_GRACE = timedelta(hours=24)  # longer than any request or transaction that stores a file
TEMP_GRACE = timedelta(hours=6)
UPLOAD_DIR = "uploads"
# ours: a random name, or the one storage.save() chose instead should it ever exist (Django appends _ and 7 characters)
STORED_NAME = re.compile(r"uploads/\d{4}/\d{2}/[0-9a-f]{32}(?:_[A-Za-z0-9]{7})?\.(pdf|jpg|png|ofd)")
ACCEPT = ".pdf,.jpg,.jpeg,.png,.ofd,application/pdf,image/jpeg,image/png"
KINDS = {  # ext -> (content type, label)
    "pdf": ("application/pdf", "PDF"),
    "jpg": ("image/jpeg", "JPEG 图片"),
    "png": ("image/png", "PNG 图片"),
    "ofd": ("application/ofd", "OFD 版式文件"),
}
INLINE_KINDS = frozenset({"pdf", "jpg", "png"})  # what a browser shows by itself
SUFFIXES = {"pdf": (".pdf",), "jpg": (".jpg", ".jpeg"), "png": (".png",), "ofd": (".ofd",)}
ALLOWED_LABEL = "PDF、JPG、PNG 或 OFD"
# Roles that handle or supervise cases. 事项管理 (catalog_admin) keeps the catalog and never needs an
# applicant's documents (issue 11.7).
CASE_FILE_ROLES = frozenset({Role.CLERK, Role.REVIEWER, Role.APPROVER, Role.SUPERVISOR, Role.ADMIN})

# PDF names that run something or carry something other than the document (ISO 32000-1 §12.6, §7.11.4,
# §13.7, §12.7.8). A key anywhere, or the value of /S (an action's kind), /Type or /Subtype.
PDF_ACTIVE = {
    "/JavaScript": "JavaScript 脚本", "/JS": "JavaScript 脚本",
    "/AA": "打开或浏览时自动执行的动作", "/Launch": "启动外部程序的动作",
    "/EmbeddedFiles": "嵌入的文件", "/EmbeddedFile": "嵌入的文件", "/EF": "嵌入的文件", "/FileAttachment": "附件",
    "/RichMedia": "多媒体(RichMedia)内容", "/XFA": "XFA 动态表单",
}


def upload_temp_dir() -> Path:
    """Where uploads wait while a request runs (settings.FILE_UPLOAD_TEMP_DIR; Django's own large-upload
    files and ours). Created on demand; the sweep empties what a killed worker left."""
    path = Path(settings.FILE_UPLOAD_TEMP_DIR)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def clean_name(name) -> str:
    """The original name as metadata: no directories, no control or format characters, 200 at most."""
    name = str(name or "").replace("\\", "/").split("/")[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = name.strip()
    if set(name) <= {"."}:
        name = ""
    return name[-200:] if len(name) > 200 else name


def label_for(name, ext: str) -> str:
    """The name shown and given to downloads: the user's cleaned name with the extension of the type we
    found, so that `x.html` holding a JPEG is `x.jpg` and `setup.exe` holding a PDF is `setup.pdf`."""
    label = clean_name(name)
    stem, dot, suffix = label.rpartition(".")
    if dot and not stem.strip(". "):  # ".pdf": an extension only
        label = ""
    elif dot and f".{suffix.lower()}" in SUFFIXES[ext]:
        return label
    elif dot and re.fullmatch(r"[A-Za-z0-9]{1,8}", suffix):
        label = stem
    label = label.rstrip(". ")[:195] or "材料"
    return f"{label}.{ext}"


def _is_ofd(f) -> bool:
    try:
        f.seek(0)
        with zipfile.ZipFile(f) as z:  # reads the central directory only; nothing is extracted
            names = z.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return False
    return "OFD.xml" in names  # the entries' count, sizes and names: check_structure


def sniff(f) -> str | None:
    """The file's kind by its first bytes: 'pdf', 'jpg', 'png', 'ofd', or None. Only the first step:
    `check_structure` then proves the file is what its first bytes say."""
    f.seek(0)
    head = f.read(1024)
    f.seek(0)
    if not isinstance(head, bytes):
        return None
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"PK\x03\x04") and _is_ofd(f):
        f.seek(0)
        return "ofd"
    return None


def _check_size(size) -> None:
    if not size:
        raise ValidationError("上传的文件是空的(0 字节),请重新选择文件", code="file_empty", field="file")
    if size > MAX_SIZE:
        raise ValidationError(f"文件大小为 {size / 1024 / 1024:.1f} MB,超过 20 MB 的上限,请压缩或分拆后再上传",
                              code="file_too_large", field="file")


def _damaged(shown: str, kind: str) -> ValidationError:
    return ValidationError(f"{shown}无法作为 {KINDS[kind][1]}打开:文件已损坏,或只是开头像 {KINDS[kind][1]}。"
                           f"请用原软件重新导出或重新扫描后上传", code="file_damaged", field="file")


def _clean_image(kind: str, fh, shown: str) -> bytes:
    """The picture decoded and encoded again (see the module's docstring)."""
    from PIL import Image, ImageOps

    fh.seek(0)
    try:
        with Image.open(fh, formats=["JPEG" if kind == "jpg" else "PNG"]) as im:
            width, height = im.size
            if width * height > MAX_PIXELS:
                raise ValidationError(f"{shown}的尺寸为 {width}×{height} 像素,超过 {MAX_PIXELS // 1_000_000} 百万像素的上限,"
                                      "请缩小后再上传", code="image_too_large", field="file")
            im.load()
            icc = im.info.get("icc_profile")
            transparency = im.info.get("transparency")
            picture = ImageOps.exif_transpose(im)
        picture.info = {}  # nothing of the original's metadata is written back
        out = io.BytesIO()
        if kind == "jpg":
            if picture.mode not in ("L", "RGB", "CMYK"):
                picture = picture.convert("RGB")
            picture.save(out, "JPEG", quality=JPEG_QUALITY, **({"icc_profile": icc} if icc else {}))
        else:
            extra = {"icc_profile": icc} if icc else {}
            if transparency is not None and picture.mode in ("P", "L", "RGB", "1", "I"):
                extra["transparency"] = transparency
            picture.save(out, "PNG", **extra)
    except ValidationError:
        raise
    except Image.DecompressionBombError:
        raise ValidationError(f"{shown}的像素数过大,请缩小后再上传", code="image_too_large", field="file") from None
    except Exception:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, ValueError, struct.error…: all "cannot decode"
        raise _damaged(shown, kind) from None
    return out.getvalue()


class _PdfTooComplex(Exception):
    pass


def _pdf_active_content(reader) -> str | None:
    """What active content the PDF carries (PDF_ACTIVE's description), or None. Every indirect object
    the cross-reference names is visited, and every direct dictionary and array inside it."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    ids = [(num, gen) for gen, table in reader.xref.items() if gen != 65535 for num in table]
    ids += [(num, 0) for num in reader.xref_objStm]
    if len(ids) > MAX_PDF_OBJECTS:
        raise _PdfTooComplex
    deadline = _time.monotonic() + PDF_CHECK_SECONDS
    stack = [(reader.trailer, 0)]
    while stack or ids:
        if not stack:
            num, gen = ids.pop()
            stack.append((reader.get_object(IndirectObject(num, gen, reader)), 0))
            if _time.monotonic() > deadline:  # each object stream inflates to 75 MB at most (pypdf); many would take minutes
                raise _PdfTooComplex
        obj, depth = stack.pop()
        if depth > MAX_PDF_DEPTH:
            raise ValueError("nested too deeply")
        if isinstance(obj, DictionaryObject):  # streams too: their dictionary
            for key, value in obj.items():
                if key in PDF_ACTIVE:
                    return PDF_ACTIVE[key]
                if key in ("/S", "/Type", "/Subtype") and isinstance(value, str) and value in PDF_ACTIVE:
                    return PDF_ACTIVE[value]
                if isinstance(value, (DictionaryObject, ArrayObject)):
                    stack.append((value, depth + 1))
        elif isinstance(obj, ArrayObject):
            stack.extend((v, depth + 1) for v in obj if isinstance(v, (DictionaryObject, ArrayObject)) and not isinstance(v, IndirectObject))
    return None


def _check_pdf(fh, shown: str) -> None:
    from pypdf import PdfReader

    fh.seek(0)
    try:
        reader = PdfReader(fh, strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # an owner password only (print restrictions) opens with ""
            except Exception:  # noqa: BLE001 - unknown or broken encryption: treated as locked
                opened = 0
            if not opened:
                raise ValidationError(f"{shown}设置了打开密码,请上传未加密的 PDF", code="pdf_encrypted", field="file")
        if len(reader.pages) < 1:
            raise ValueError("no page")
        found = _pdf_active_content(reader)
    except ValidationError:
        raise
    except _PdfTooComplex:
        raise ValidationError(f"{shown}的结构过于复杂(对象过多),无法完成安全检查。请“打印为 PDF”或另存为较简单的 PDF 后上传",
                              code="pdf_too_complex", field="file") from None
    except Exception:  # noqa: BLE001 - pypdf raises PdfReadError, ValueError, KeyError, RecursionError…: all "not a PDF we can read"
        raise _damaged(shown, "pdf") from None
    if found:
        raise ValidationError(f"{shown}含有{found},可能在打开时执行代码,不予接收。请“打印为 PDF”或用扫描件重新生成后上传",
                              code="pdf_active_content", field="file")


def check_structure(kind: str, fh, shown: str) -> bytes | None:
    """Prove the file is a whole, harmless file of its kind. Returns the bytes to store instead of the
    upload (images, encoded again) or None (store the upload as it is). Raises ValidationError."""
    if kind in ("jpg", "png"):
        return _clean_image(kind, fh, shown)
    if kind == "pdf":
        _check_pdf(fh, shown)
    elif kind == "ofd":
        zipcheck.check_zip(fh, max_total=OFD_MAX_TOTAL, max_entries=OFD_MAX_ENTRIES, label=f"{shown}(OFD 文件)")
    fh.seek(0)
    return None


def _spool(f):
    """The upload copied into a temporary file of ours (memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, then
    an unnamed file in the upload temporary folder), stopping at MAX_SIZE whatever the client claimed."""
    _sweep_temp_now_and_then()
    spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - handed to the caller's `with`
        max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=upload_temp_dir())
    try:
        size = 0
        f.seek(0)
        chunks = f.chunks() if hasattr(f, "chunks") else iter(lambda: f.read(64 * 1024), b"")
        for chunk in chunks:
            size += len(chunk)
            if size > MAX_SIZE:
                raise ValidationError("文件超过 20 MB 的上限", code="file_too_large", field="file")
            spool.write(chunk)
        _check_size(size)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def _new_name(ext: str) -> str:
    today = workdays.today()
    return f"{UPLOAD_DIR}/{today:%Y}/{today:%m}/{uuid.uuid4().hex}.{ext}"


def store_upload(owner: Applicant, f, *, actor) -> UploadedFile:
    """Check one uploaded file and store it. Raises ValidationError (file_required, file_empty,
    file_too_large, file_type_not_allowed, file_damaged, image_too_large, pdf_encrypted,
    pdf_active_content, zip_*) and stores nothing when the file is refused."""
    if f is None:
        raise ValidationError("请选择要上传的文件", code="file_required", field="file")
    actor_applicant = getattr(actor, "applicant", None) if actor is not None else None
    actor_staff = getattr(actor, "staff", None) if actor is not None else None
    if actor_staff is None and (actor_applicant is None or actor_applicant.pk != owner.pk):
        raise PermissionDenied("只能为本人上传材料", code="not_owner")
    _check_size(getattr(f, "size", None))
    original = clean_name(getattr(f, "name", ""))
    shown = f"“{original[:40]}”" if original else "该文件"
    with _spool(f) as spool:
        ext = sniff(spool)
        if ext is None:
            raise ValidationError(f"{shown}不是 {ALLOWED_LABEL} 文件,请上传这几种格式的文件(以文件内容为准,改扩展名无效)",
                                  code="file_type_not_allowed", field="file")
        cleaned = check_structure(ext, spool, shown)
        if cleaned is not None:
            _check_size(len(cleaned))  # an image encoded again can come out larger than it went in
        body = io.BytesIO(cleaned) if cleaned is not None else spool
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(1024 * 1024), b""):
            digest.update(chunk)
        size = body.tell()
        body.seek(0)
        storage = files_storage()
        name = storage.save(_new_name(ext), File(body))
    try:
        return UploadedFile.objects.create(
            owner=owner, original_name=label_for(original, ext), content_type=KINDS[ext][0], size=size,
            sha256=digest.hexdigest(), path=name, uploaded_by=actor if getattr(actor, "pk", None) else None,
        )
    except BaseException:
        storage.delete(name)
        raise


def discard(records) -> None:
    """Remove the stored files of uploads whose transaction rolled back (the rows are gone already)."""
    storage = files_storage()
    for record in records:
        if STORED_NAME.fullmatch(record.path or "") and not UploadedFile.objects.filter(path=record.path).exists():
            storage.delete(record.path)


def open_stored(record: UploadedFile):
    """The stored file, open for reading (from the local folder or the bucket). A name that is not one of
    ours, or a file that is gone, is NotFound."""
    if not STORED_NAME.fullmatch(record.path or ""):
        raise NotFound("找不到该文件", code="file_not_found")
    try:
        return files_storage().open(record.path, "rb")
    except (FileNotFoundError, SuspiciousOperation):
        raise NotFound("找不到该文件", code="file_not_found") from None


def copy_stored(record: UploadedFile) -> str:
    """A copy of a stored file under a new name of ours (a file belongs to one case); returns the name."""
    ext = record.path.rsplit(".", 1)[-1]
    with open_stored(record) as source:
        return files_storage().save(_new_name(ext), source)


def staff_may_open_case_files(staff) -> bool:
    """Whether this staff member's role may open applicants' documents at all (then only for cases they see)."""
    return staff.role in CASE_FILE_ROLES


def open_for(user, file_id) -> UploadedFile:
    """The file for download: to its owner applicant, or to staff whose role handles cases and who may
    see its case. Anyone else, and any bad id: NotFound."""
    try:
        file_id = int(file_id)
    except (TypeError, ValueError):
        raise NotFound("找不到该文件", code="file_not_found")
    if file_id <= 0 or file_id > 2**63 - 1 or user is None or not getattr(user, "is_authenticated", False):
        raise NotFound("找不到该文件", code="file_not_found")
    record = UploadedFile.objects.select_related("case_material").filter(pk=file_id).first()
    if record is None:
        raise NotFound("找不到该文件", code="file_not_found")
    applicant = getattr(user, "applicant", None)
    staff = getattr(user, "staff", None)
    allowed = applicant is not None and record.owner_id == applicant.pk
    if allowed and record.case_material_id and not applicant.is_verified:  # issue 11: not a window case's files
        from .selectors import account_sees_case

        allowed = account_sees_case(applicant, record.case_material.case)
    if not allowed and staff is not None and record.case_material_id and staff_may_open_case_files(staff):
        from .selectors import staff_visible_cases

        allowed = staff_visible_cases(staff).filter(pk=record.case_material.case_id).exists()
    if not allowed:
        raise NotFound("找不到该文件", code="file_not_found")
    return record


def opens_inline(record: UploadedFile) -> bool:
    """Whether a browser shows this file itself (images, PDFs) rather than saving it (OFD: no browser
    reads it). By the type we found, which is the stored name's extension."""
    return record.path.rsplit(".", 1)[-1] in INLINE_KINDS if STORED_NAME.fullmatch(record.path or "") else False


def download_response(record: UploadedFile, *, inline: bool = False) -> FileResponse:
    """The stored file streamed as an attachment, or shown in the browser when `inline` is asked and the
    type is one a browser shows (`opens_inline`; 12.1, the staff console's preview): the type and
    extension we found, never the user's; nosniff, no caching, and a sandbox (no script, no plugin
    running in our origin) whichever way a browser renders it."""
    ext = record.path.rsplit(".", 1)[-1] if STORED_NAME.fullmatch(record.path or "") else ""
    fh = open_stored(record)
    response = FileResponse(fh, as_attachment=not (inline and opens_inline(record)),
                            filename=label_for(record.original_name, ext), content_type=KINDS[ext][0])
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def reusable(owner: Applicant, ids, draft=None) -> list[int]:
    """Of the file ids a form sends back ('keep this file'), those the owner may attach again: their own
    files not yet part of a case, or already part of this draft. Others are refused (NotFound)."""
    wanted = set()
    for i in ids:
        try:
            wanted.add(int(i))
        except (TypeError, ValueError):
            raise NotFound("找不到上传的文件", code="file_not_found", field="materials")
    if not wanted:
        return []
    qs = UploadedFile.objects.filter(owner=owner, pk__in=[i for i in wanted if 0 < i < 2**63])
    ok = {f.pk for f in qs.select_related("case_material")
          if f.case_material_id is None or (draft is not None and f.case_material.case_id == draft.pk)}
    if ok != wanted:
        raise NotFound("找不到上传的文件", code="file_not_found", field="materials")
    return sorted(ok)


def sweep_temp(*, now=None, grace: timedelta = TEMP_GRACE) -> int:
    """Remove files older than `grace` from this machine's upload temporary folder: what a worker killed
    in the middle of a request left (Django names its large-upload files and deletes them on close)."""
    global _temp_swept_at
    now = now or timezone.now()
    _temp_swept_at = _time.monotonic()
    cutoff = now.timestamp() - grace.total_seconds()
    removed = 0
    try:
        entries = list(os.scandir(upload_temp_dir()))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except OSError:  # taken by another sweep meanwhile
            continue
    return removed


_temp_swept_at = None


def _sweep_temp_now_and_then() -> None:
    """Every app machine has its own temporary folder, and the periodic work runs on one machine only:
    each process also sweeps its machine's folder on an upload, at most once an hour."""
    if _temp_swept_at is None or _time.monotonic() - _temp_swept_at > 3600:
        sweep_temp()


def sweep(*, now=None, grace: timedelta = ORPHAN_GRACE, temp_grace: timedelta = TEMP_GRACE) -> dict[str, int]:
    """Remove stored uploads that no row names (a request killed between storing and committing, a
    rolled-back transaction whose clean-up did not run) once older than `grace`, and stale temporary
    upload files (`sweep_temp`). Idempotent; returns what it removed."""
    now = now or timezone.now()
    storage = files_storage()
    orphans = 0
    batch: list[str] = []

    def flush():
        nonlocal orphans
        known = set(UploadedFile.objects.filter(path__in=batch).values_list("path", flat=True))
        for name in batch:
            if name not in known:
                storage.delete(name)
                orphans += 1
        batch.clear()

    for name, modified in walk(storage, UPLOAD_DIR):
        if modified is not None and now - modified >= grace:
            batch.append(name)
            if len(batch) >= 500:
                flush()
    if batch:
        flush()
    return {"files_orphaned": orphans, "files_temp": sweep_temp(now=now, grace=temp_grace)}

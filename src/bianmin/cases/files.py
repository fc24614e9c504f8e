"""Uploaded files: checked by content (never by name), stored outside the web root under a random
name, handed out only to the applicant who owns them or to staff who may see their case.

Accepted: PDF, JPEG, PNG and OFD (GB/T 33190: a zip whose entries include OFD.xml), 1 byte to 20 MB.
The user's file name never reaches the file system; it is kept, cleaned, as metadata only.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import uuid
import zipfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from bianmin.core.errors import NotFound, PermissionDenied, ValidationError

from .models import Applicant, UploadedFile

MAX_SIZE = 20 * 1024 * 1024
MAX_ZIP_ENTRIES = 10_000
UPLOAD_DIR = "uploads"
ACCEPT = ".pdf,.jpg,.jpeg,.png,.ofd,application/pdf,image/jpeg,image/png"
KINDS = {  # ext -> (content type, label)
    "pdf": ("application/pdf", "PDF"),
    "jpg": ("image/jpeg", "JPEG 图片"),
    "png": ("image/png", "PNG 图片"),
    "ofd": ("application/ofd", "OFD 版式文件"),
}
ALLOWED_LABEL = "PDF、JPG、PNG 或 OFD"


def upload_root() -> Path:
    return (Path(settings.MEDIA_ROOT) / UPLOAD_DIR).resolve()


def clean_name(name) -> str:
    """The original name as metadata: no directories, no control or format characters, 200 at most."""
    name = str(name or "").replace("\\", "/").split("/")[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = name.strip()
    if set(name) <= {"."}:
        name = ""
    return name[-200:] if len(name) > 200 else name


def _is_ofd(f) -> bool:
    try:
        f.seek(0)
        with zipfile.ZipFile(f) as z:  # reads the central directory only; nothing is extracted
            names = z.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return False
    if len(names) > MAX_ZIP_ENTRIES:
        return False
    return any(n.replace("\\", "/").lstrip("/") == "OFD.xml" for n in names)


def sniff(f) -> str | None:
    """The file's kind by its first bytes: 'pdf', 'jpg', 'png', 'ofd', or None."""
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


def store_upload(owner: Applicant, f, *, actor) -> UploadedFile:
    """Check one uploaded file and store it. Raises ValidationError (file_empty, file_too_large,
    file_type_not_allowed) and stores nothing when the file is refused."""
    if f is None:
        raise ValidationError("请选择要上传的文件", code="file_required", field="file")
    actor_applicant = getattr(actor, "applicant", None) if actor is not None else None
    actor_staff = getattr(actor, "staff", None) if actor is not None else None
    if actor_staff is None and (actor_applicant is None or actor_applicant.pk != owner.pk):
        raise PermissionDenied("只能为本人上传材料", code="not_owner")
    _check_size(getattr(f, "size", None))
    original = clean_name(getattr(f, "name", ""))
    ext = sniff(f)
    if ext is None:
        shown = f"“{original[:40]}”" if original else "该文件"
        raise ValidationError(f"{shown}不是 {ALLOWED_LABEL} 文件,请上传这几种格式的文件(以文件内容为准,改扩展名无效)",
                              code="file_type_not_allowed", field="file")
    content_type = KINDS[ext][0]
    today = timezone.localdate()
    rel = f"{UPLOAD_DIR}/{today:%Y}/{today:%m}/{uuid.uuid4().hex}.{ext}"
    root = upload_root()
    target = (Path(settings.MEDIA_ROOT) / rel).resolve()
    if root not in target.parents:  # cannot happen with our own names; refuse rather than write outside
        raise ValidationError("文件存储路径无效", code="bad_path")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    f.seek(0)
    try:
        with open(target, "xb") as out:
            for chunk in f.chunks():
                size += len(chunk)
                if size > MAX_SIZE:
                    raise ValidationError("文件超过 20 MB 的上限", code="file_too_large", field="file")
                digest.update(chunk)
                out.write(chunk)
        _check_size(size)
        os.chmod(target, 0o640)
        record = UploadedFile.objects.create(
            owner=owner, original_name=original or f"材料.{ext}", content_type=content_type, size=size,
            sha256=digest.hexdigest(), path=rel, uploaded_by=actor if getattr(actor, "pk", None) else None,
        )
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return record


def discard(records) -> None:
    """Remove the stored files of uploads whose transaction rolled back (the rows are gone already)."""
    root = upload_root()
    for record in records:
        target = (Path(settings.MEDIA_ROOT) / record.path).resolve()
        if root in target.parents and not UploadedFile.objects.filter(path=record.path).exists():
            target.unlink(missing_ok=True)


def path_of(record: UploadedFile) -> Path:
    """The stored file's absolute path, refusing anything outside the upload folder."""
    target = (Path(settings.MEDIA_ROOT) / record.path).resolve()
    if upload_root() not in target.parents or not target.is_file():
        raise NotFound("找不到该文件", code="file_not_found")
    return target


def open_for(user, file_id) -> tuple[UploadedFile, Path]:
    """The file for download: to its owner applicant, or to staff who may see its case. Anyone else: NotFound."""
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
    if not allowed and staff is not None and record.case_material_id:
        from .selectors import staff_visible_cases

        allowed = staff_visible_cases(staff).filter(pk=record.case_material.case_id).exists()
    if not allowed:
        raise NotFound("找不到该文件", code="file_not_found")
    return record, path_of(record)


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

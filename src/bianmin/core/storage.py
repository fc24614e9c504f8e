"""Where the platform's files live: Django's storage API, so that every app machine reads and writes
the same files (issue 10.10).

`settings.STORAGES["default"]` is the local folder `var/files` (BIANMIN_VAR_DIR) on one machine, or
an S3-compatible bucket (django-storages' S3Storage: MinIO, Ceph, a cloud's object storage) when
`BIANMIN_S3_BUCKET` is set; see docs/operations.md. Code never opens a stored file by path: it asks
`files_storage()` to save, open, delete or list names.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from datetime import datetime

LOCAL = {"BACKEND": "django.core.files.storage.FileSystemStorage",
         "OPTIONS": {"file_permissions_mode": 0o640, "directory_permissions_mode": 0o750}}


def storages_setting(environ: Mapping[str, str]) -> dict:
    """settings.STORAGES from the environment (settings.py calls this; so do the tests, with a bucket on
    the S3 server they start). S3 keys are not read here: boto3 takes AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY (or the machine's role) from the environment itself."""
    bucket = environ.get("BIANMIN_S3_BUCKET", "").strip()
    default = LOCAL
    if bucket:
        endpoint = environ.get("BIANMIN_S3_ENDPOINT_URL", "").strip() or None
        default = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": environ.get("BIANMIN_S3_REGION", "").strip() or None,
            "location": environ.get("BIANMIN_S3_PREFIX", "").strip().strip("/"),
            # MinIO, Ceph and most self-hosted servers want path-style addresses (endpoint/bucket/key)
            "addressing_style": environ.get("BIANMIN_S3_ADDRESSING_STYLE", "").strip() or ("path" if endpoint else None),
            "signature_version": "s3v4",
            "default_acl": None,  # the bucket's policy decides; objects are never public
            "querystring_auth": True,
            "file_overwrite": False,
            "object_parameters": {"ContentDisposition": "attachment"},
        }}
    return {"default": default, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def files_storage():
    """The storage of uploads and every other file the platform keeps (the `default` alias)."""
    from django.core.files.storage import storages

    return storages["default"]


def walk(storage, top: str) -> Iterator[tuple[str, datetime | None]]:
    """Every stored name under `top` (a folder, without a trailing slash) with its modification time.

    On S3 one listing gives both (a thousand keys a request); elsewhere the folders are listed and
    each file's time asked. A name that vanishes meanwhile is skipped."""
    bucket = getattr(storage, "bucket", None)
    if bucket is not None and hasattr(storage, "location"):  # S3Storage: list keys with their LastModified
        root = posixpath.join(storage.location, top).strip("/") + "/"
        cut = len(storage.location.strip("/") + "/") if storage.location.strip("/") else 0
        for obj in bucket.objects.filter(Prefix=root):
            yield obj.key[cut:], obj.last_modified
        return
    pending = [top]
    while pending:
        folder = pending.pop()
        try:
            dirs, names = storage.listdir(folder)
        except FileNotFoundError:
            continue
        pending.extend(posixpath.join(folder, d) for d in dirs)
        for n in names:
            name = posixpath.join(folder, n)
            try:
                yield name, storage.get_modified_time(name)
            except (FileNotFoundError, NotImplementedError):
                continue

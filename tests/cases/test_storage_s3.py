"""Files on several app machines (issue 10.10): with BIANMIN_S3_BUCKET set, uploads go to an S3 bucket
that every machine reads. Tested against a real S3 server the test starts (moto's server mode, on a
free port on 127.0.0.1), with the settings built by the same function settings.py calls."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from moto.server import ThreadedMotoServer

from bianmin.cases import files, reuse, services
from bianmin.cases.models import UploadedFile
from bianmin.core.storage import files_storage, storages_setting
from tests.cases.test_files import JPEG, tiny_pdf

BUCKET = "bianmin-files"
PREFIX = "zhanjiang"


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server on loopback for this module, with fake keys in the environment (boto3 reads
    them there, as in production)."""
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="bianmin-test", AWS_SECRET_ACCESS_KEY="bianmin-test-secret", AWS_DEFAULT_REGION="us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def env(endpoint: str) -> dict[str, str]:
    return {"BIANMIN_S3_BUCKET": BUCKET, "BIANMIN_S3_ENDPOINT_URL": endpoint, "BIANMIN_S3_REGION": "us-east-1",
            "BIANMIN_S3_PREFIX": PREFIX}


def s3_client(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def on_s3(settings, s3_endpoint, tmp_path):
    """This process as one app machine with the bucket as its storage (an empty bucket per test)."""
    client = s3_client(s3_endpoint)
    try:
        for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    except client.exceptions.NoSuchBucket:
        client.create_bucket(Bucket=BUCKET)
    settings.MEDIA_ROOT = tmp_path / "files"   # must stay empty: nothing goes to the local disk
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "tmp")
    settings.STORAGES = storages_setting(env(s3_endpoint))
    return s3_endpoint


def other_machine(endpoint):
    """A second machine's storage: a new S3Storage with its own connection, from the same settings."""
    from storages.backends.s3 import S3Storage

    return S3Storage(**storages_setting(env(endpoint))["default"]["OPTIONS"])


def test_settings_choose_s3_only_when_a_bucket_is_named():
    assert storages_setting({})["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    conf = storages_setting({"BIANMIN_S3_BUCKET": "b", "BIANMIN_S3_ENDPOINT_URL": "http://minio:9000", "BIANMIN_S3_PREFIX": "/zj/"})
    assert conf["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    assert conf["default"]["OPTIONS"]["location"] == "zj" and conf["default"]["OPTIONS"]["addressing_style"] == "path"
    assert "access_key" not in conf["default"]["OPTIONS"]  # keys stay in the environment


def test_upload_on_one_machine_is_downloaded_on_another(on_s3, people, tmp_path, settings):
    citizen = Client()
    citizen.force_login(people["citizen_user"])
    r = citizen.post("/api/v1/uploads", {"file": SimpleUploadedFile("营业执照.pdf", tiny_pdf("licence"), content_type="application/pdf")})
    assert r.status_code == 201, r.content
    record = UploadedFile.objects.get(pk=r.json()["id"])
    # in the bucket under the prefix, not on this machine's disk
    keys = [o["Key"] for o in s3_client(on_s3).list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [f"{PREFIX}/{record.path}"]
    assert not Path(settings.MEDIA_ROOT).exists() or not any(Path(settings.MEDIA_ROOT).rglob("*.pdf"))
    # machine B: its own connection reads the same bytes
    with other_machine(on_s3).open(record.path, "rb") as fh:
        assert fh.read() == tiny_pdf("licence")
    # and serves the download: settings assigned again give this process a fresh storage and client
    settings.STORAGES = storages_setting(env(on_s3))
    r = citizen.get(f"/files/{record.pk}/")
    assert r.status_code == 200 and r["Content-Disposition"] == "attachment; filename*=utf-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7.pdf"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert b"".join(r.streaming_content) == tiny_pdf("licence")
    head = s3_client(on_s3).head_object(Bucket=BUCKET, Key=f"{PREFIX}/{record.path}")
    assert head["ContentDisposition"] == "attachment"  # should anyone open the object directly


def test_images_are_cleaned_and_reuse_copies_within_the_bucket(on_s3, people, make_item):
    jpg = files.store_upload(people["citizen"], SimpleUploadedFile("x.html", JPEG), actor=people["citizen_user"])
    assert jpg.original_name == "x.jpg" and jpg.path.endswith(".jpg")
    item = make_item(audience="both")
    first = item.materials.first()
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                       materials={m.pk: {"files": [jpg.pk]} if m.pk == first.pk else {"at_window": True}
                                                  for m in item.materials.all()})
    offer = reuse.offers(people["citizen"], item.materials.filter(pk=first.pk), exclude_case_id=None)[first.pk]
    assert offer.case_number == case.number
    stored: list = []
    [copy_id] = reuse.copy_files(people["citizen"], offer, actor=people["citizen_user"], stored=stored)
    copy = UploadedFile.objects.get(pk=copy_id)
    machine_b = other_machine(on_s3)
    with machine_b.open(copy.path, "rb") as a, machine_b.open(jpg.path, "rb") as b:
        assert copy.path != jpg.path and a.read() == b.read()


def test_sweep_on_s3(on_s3, people):
    kept = files.store_upload(people["citizen"], SimpleUploadedFile("a.pdf", tiny_pdf()), actor=people["citizen_user"])
    machine_b = other_machine(on_s3)
    orphan = machine_b.save("uploads/2026/01/" + "c" * 32 + ".pdf", io.BytesIO(tiny_pdf("orphan")))
    outside = machine_b.save("audit/checkpoint.json", io.BytesIO(b"{}"))  # not an upload: never swept
    now = timezone.now()
    assert files.sweep(now=now + timedelta(hours=1))["files_orphaned"] == 0
    assert files.sweep(now=now + timedelta(hours=25))["files_orphaned"] == 1
    assert not machine_b.exists(orphan)
    assert machine_b.exists(kept.path) and machine_b.exists(outside)
    assert files_storage().exists(kept.path)


def test_rolled_back_upload_is_removed_from_the_bucket(on_s3, people):
    f = files.store_upload(people["citizen"], SimpleUploadedFile("a.pdf", tiny_pdf()), actor=people["citizen_user"])
    UploadedFile.objects.filter(pk=f.pk).delete()
    files.discard([f])
    assert not other_machine(on_s3).exists(f.path)

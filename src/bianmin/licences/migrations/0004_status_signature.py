"""Licence status signed by the issuer's seal (services.status_bytes). Existing licences get their
current status signed by the seal that signed them: run with the production BIANMIN_SEAL_KEY (about
a few hundred licences a second on a busy 2-core machine)."""

import django.db.models.deletion
from django.db import migrations, models


def sign_statuses(apps, schema_editor):
    from bianmin.licences import seals, services

    Licence = apps.get_model("licences", "Licence")
    Seal = apps.get_model("licences", "Seal")
    LicenceType = apps.get_model("licences", "LicenceType")
    seal_rows, types = {}, {t.pk: t for t in LicenceType.objects.all()}
    batch = []
    for licence in Licence.objects.filter(status_signature="").order_by("id").iterator(chunk_size=2000):
        licence.seal = seal_rows.get(licence.seal_id) or seal_rows.setdefault(licence.seal_id, Seal.objects.get(pk=licence.seal_id))
        licence.licence_type = types[licence.licence_type_id]
        licence.status_seal_id = licence.seal_id
        licence.status_signature = seals.sign(licence.seal, services.status_bytes(licence))
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

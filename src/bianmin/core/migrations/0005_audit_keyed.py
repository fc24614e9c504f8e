"""The keyed audit chain (scheme 3): the head records where it begins. Run with the application
stopped: an old process appending a scheme-2 entry after this would be refused by `bianmin audit verify`."""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations, models

GENESIS = "0" * 64


def start_keyed_chain(apps, schema_editor):
    AuditEntry = apps.get_model("core", "AuditEntry")
    AuditHead = apps.get_model("core", "AuditHead")
    last = AuditEntry.objects.order_by("-id").values_list("id", "prev_hash", "hash").first()
    keyed_from = last[0] + 1 if last else 1
    mac = hmac.new(settings.AUDIT_KEY, f"bianmin-audit-head:{keyed_from}".encode(), hashlib.sha256).hexdigest()
    AuditHead.objects.update_or_create(pk=1, defaults={"prev": last[1] if last else GENESIS, "hash": last[2] if last else GENESIS,
                                                       "keyed_from": keyed_from, "mac": mac})


class Migration(migrations.Migration):
    dependencies = [("core", "0004_api_token")]

    operations = [
        migrations.AddField(model_name="audithead", name="keyed_from", field=models.BigIntegerField(null=True)),
        migrations.AddField(model_name="audithead", name="mac", field=models.CharField(blank=True, default="", max_length=64)),
        migrations.AlterField(model_name="auditentry", name="scheme", field=models.PositiveSmallIntegerField(default=3)),
        migrations.RunPython(start_keyed_chain, migrations.RunPython.noop),
    ]

from django.db import migrations, models

GENESIS = "0" * 64


def seed_head(apps, schema_editor):
    """The head starts at the newest existing entry, so the chain goes on where it was."""
    AuditEntry = apps.get_model("core", "AuditEntry")
    AuditHead = apps.get_model("core", "AuditHead")
    last = AuditEntry.objects.order_by("-id").values_list("prev_hash", "hash").first()
    AuditHead.objects.update_or_create(pk=1, defaults={"prev": last[0] if last else GENESIS, "hash": last[1] if last else GENESIS})


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="AuditHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("prev", models.CharField(max_length=64)),
                ("hash", models.CharField(max_length=64)),
            ],
            options={"verbose_name": "审计日志链头", "verbose_name_plural": "审计日志链头"},
        ),
        # entries written so far keep scheme 1; new ones are written with 2
        migrations.AddField(model_name="auditentry", name="scheme", field=models.PositiveSmallIntegerField(default=1)),
        migrations.AlterField(model_name="auditentry", name="scheme", field=models.PositiveSmallIntegerField(default=2)),
        migrations.RunPython(seed_head, migrations.RunPython.noop),
    ]

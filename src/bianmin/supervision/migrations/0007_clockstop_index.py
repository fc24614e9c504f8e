from django.db import migrations


class Migration(migrations.Migration):
    """The dashboard counts suspensions longer than planned: those ended in the period and those
    still running. Only stops with a planned length can be too long; index them by end date (NULL,
    still running, included), so the count reads a slice instead of every stop."""

    dependencies = [
        ("supervision", "0006_rating_appealed_on"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS clockstop_planned_ended ON cases_clockstop (ended_on) WHERE planned_days IS NOT NULL",
            "DROP INDEX IF EXISTS clockstop_planned_ended",
        ),
    ]

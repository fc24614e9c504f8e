from django.db import migrations


class Migration(migrations.Migration):
    """The dashboard counts overdue cases (in review, clock running, past the promised deadline) on
    every view. A partial index on exactly those cases makes that an index-only count, whatever the
    number of finished cases; it also serves the alert job's look-up of open cases by deadline."""

    dependencies = [
        ("supervision", "0004_plan_tracker"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS case_running_deadline ON cases_case (promised_deadline, department_id) "
            "WHERE status = 'in_review' AND stopped_on IS NULL",
            "DROP INDEX IF EXISTS case_running_deadline",
        ),
    ]

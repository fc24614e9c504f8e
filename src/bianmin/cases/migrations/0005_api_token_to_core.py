# ApiToken moves to the core app (the API plumbing lives there). State only: the table
# cases_apitoken stays as it is, with its rows; core/0004_api_token takes it over.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0004_fewer_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='ApiToken')],
            database_operations=[],
        ),
    ]

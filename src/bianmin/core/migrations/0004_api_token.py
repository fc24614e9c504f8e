# ApiToken, moved from the cases app: state only, the existing table cases_apitoken is kept.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0003_fewer_indexes'),
        ('cases', '0005_api_token_to_core'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ApiToken',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, verbose_name='用途')),
                        ('key_hash', models.CharField(max_length=64, unique=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='创建时间')),
                        ('last_used_at', models.DateTimeField(blank=True, null=True, verbose_name='最近使用')),
                        ('revoked', models.BooleanField(default=False, verbose_name='已吊销')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL, verbose_name='账号')),
                    ],
                    options={
                        'verbose_name': '接口令牌',
                        'verbose_name_plural': '接口令牌',
                        'ordering': ['-id'],
                        'db_table': 'cases_apitoken',
                    },
                ),
            ],
            database_operations=[],
        ),
    ]

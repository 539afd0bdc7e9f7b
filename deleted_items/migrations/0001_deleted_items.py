"""Deletion records and where the feed is complete: from this migration on (deletions
before it were never recorded)."""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.utils import timezone


def feed_starts_now(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    retained_since = apps.get_model("deleted_items", "RetainedSince")
    retained_since.objects.using(schema_editor.connection.alias).create(
        date=timezone.now(), first_id=1
    )


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='RetainedSince',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateTimeField()),
                ('first_id', models.BigIntegerField()),
            ],
            options={
                'verbose_name_plural': 'retained since',
            },
        ),
        migrations.CreateModel(
            name='DeletedItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('content_type', models.CharField(max_length=100)),
                ('object_id', models.BigIntegerField()),
                ('channel_id', models.BigIntegerField(blank=True, null=True)),
                ('deleted_date', models.DateTimeField()),
            ],
            options={
                'ordering': ['id'],
                'indexes': [models.Index(fields=['deleted_date', 'id'], name='deleted_item_date_id_idx'), models.Index(fields=['content_type', 'object_id'], name='deleted_item_object_idx'), models.Index(fields=['channel_id', 'id'], name='deleted_item_channel_id_idx')],
            },
        ),
        migrations.RunPython(feed_starts_now, migrations.RunPython.noop),
    ]

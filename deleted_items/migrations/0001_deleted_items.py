"""Deletion records, and where the feed is complete: nothing has been pruned yet, so
everywhere. Deletions from before this migration were never recorded: copies made before
it keep the customers deleted then, and are best loaded again once. (Refusing requests
from before it would refuse every first run that names a start date, again and again.)"""

from datetime import UTC, datetime

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def nothing_pruned_yet(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    retained_since = apps.get_model("deleted_items", "RetainedSince")
    retained_since.objects.using(schema_editor.connection.alias).create(
        id=1, date=datetime(1, 1, 1, tzinfo=UTC), first_id=1
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
        migrations.RunPython(nothing_pruned_yet, migrations.RunPython.noop),
    ]

from django.db import migrations


def seed(apps, schema_editor):
    from labels.standard import load_seed, standard_seed  # the plain path: no audit service in a migration

    standard_seed(load_seed(), apps.get_model("labels", "Category"), apps.get_model("labels", "VerdictLabel"))


class Migration(migrations.Migration):
    dependencies = [("labels", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

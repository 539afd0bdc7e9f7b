"""Case-insensitive search that knows Turkish: ``name__fold__icontains``.

Databases fold case by their own rules: SQLite only for ASCII, PostgreSQL by its locale,
where ``İ`` lowers to ``i̇`` and ``I`` to ``i``, so ``ipek`` misses ``İpek`` and
``ŞAHİN`` finds fewer rows than ``Şahin``. :func:`fold` maps the Turkish letters first
(``İ``, ``I`` and ``ı`` all to ``i``, ``Ç Ğ Ö Ş Ü`` to their small forms), then lowers the
rest; the ``fold`` transform applies the same in SQL (``oms_fold``: a PostgreSQL function
from the toolkit's migrations, a Python function registered on SQLite connections), and a
search folds its term with :func:`fold`.
"""

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import CharField, TextField, Transform

# Both sides of every search go through this: the small dotless and dotted i become one
# letter, so that Turkish and other spellings of a name find each other.
TURKISH = str.maketrans("İIıÇĞÖŞÜ", "iiiçğöşü")


def fold(text: str) -> str:
    return text.translate(TURKISH).lower()


@CharField.register_lookup
@TextField.register_lookup
class Fold(Transform):
    lookup_name = "fold"
    function = "oms_fold"

    @property
    def output_field(self) -> CharField:
        return CharField()


def register_fold(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created``: SQLite gets ``oms_fold`` as a Python function."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "oms_fold", 1, lambda text: None if text is None else fold(text), deterministic=True
        )

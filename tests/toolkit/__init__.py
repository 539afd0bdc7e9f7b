"""A small app of its own built on the toolkit (``oms``) alone, as a new OMS endpoint would
be: a model, a serializer, a FilterSet and two views. Installed in the tests only
(tests/settings.py); tests/test_toolkit.py drives it."""

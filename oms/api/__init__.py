"""The DRF side of the toolkit, wired by dotted path in ``REST_FRAMEWORK``: apps declare a
view, a serializer and a FilterSet; this package does the rest."""

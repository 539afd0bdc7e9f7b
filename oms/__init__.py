"""The OMS API toolkit: what every OMS list endpoint shares (auth, pagination, filters,
rendering, OPTIONS metadata, the base list view). It never imports an app."""

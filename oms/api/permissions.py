"""Permissions for read-only OMS endpoints."""

from rest_framework.permissions import DjangoModelPermissions

VIEW_PERMISSION = "%(app_label)s.view_%(model_name)s"


class ModelViewPermission(DjangoModelPermissions):
    """Reading (GET, HEAD, OPTIONS) needs the model's ``view`` permission.

    DRF's ``DjangoModelPermissions`` lets any authenticated user read; here reading
    customer data is a permission of its own. Other methods never get this far:
    ``oms.api.views.ListAPIView`` answers them with 405.
    """

    perms_map = {method: [VIEW_PERMISSION] for method in ("GET", "HEAD", "OPTIONS")}

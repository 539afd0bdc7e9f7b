"""Token authentication: ``Authorization: Token <key>`` or ``Authorization: Bearer <key>``."""

from rest_framework import authentication
from rest_framework.request import Request


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, also accepting the RFC 6750 ``Bearer`` keyword.

    Schemes are case-insensitive (RFC 9110), as in DRF.
    """

    keywords = ("Token", "Bearer")

    def authenticate(self, request: Request):
        scheme = authentication.get_authorization_header(request).split()[:1]
        for keyword in self.keywords:
            if scheme and scheme[0].lower() == keyword.lower().encode():
                # DRF matches self.keyword; an authenticator instance serves one request.
                self.keyword = keyword
                break
        return super().authenticate(request)

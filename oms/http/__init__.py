"""Below DRF: middleware (request ids and access logs, health probes, security headers,
replica reads, outages), security events, file downloads and the WSGI wrapper."""

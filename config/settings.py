"""Settings for the OMS customer service: one module, every value from the environment.

docs/operations.md ("Configuration") describes each variable.
"""

from importlib.metadata import version
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.databases import databases
from config.workers import web_concurrency

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# A fixed key is tolerated only for local development; production must bring its own.
SECRET_KEY = env.str(
    "SECRET_KEY", default="django-insecure-local-development-only" if DEBUG else ""
)
if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for local development).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # Only for tokens' data migration, which moves DRF's plaintext keys into tokens.APIToken.
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc assets, served as static files
    "django_prometheus",
    "oms",  # the toolkit's database side: stamps and the write bound (oms.db.changes)
    "channels",
    "customers",
    "tokens",
    "deleted_items",
    "exports",
]

MIDDLEWARE = [
    "oms.http.middleware.HealthCheckMiddleware",
    "oms.http.middleware.RequestMetricsMiddleware",  # every response but the probes'
    # A database that cannot be reached is a JSON 503 outside DRF too (the admin).
    "oms.http.middleware.DatabaseUnavailableMiddleware",
    # Reads of GET requests from a replica when DATABASE_REPLICA_URLS names any.
    "oms.http.middleware.ReplicaReadsMiddleware",
    "oms.http.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "oms.http.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite in the project folder unless DATABASE_URL names another database,
# e.g. postgres://user:password@host:5432/name. config/databases.py builds every alias the
# same way: django-prometheus's backends, CONN_MAX_AGE, the pooler's options.
#
# Web requests get a bounded statement time (oms.db.timeouts sets it on the connections
# requests open); management commands and migrations do not.
REQUEST_STATEMENT_TIMEOUT_MS = env.int("REQUEST_STATEMENT_TIMEOUT_MS", default=5000)
# Read replicas (comma-separated URLs) become the aliases replica1, replica2, ...; the
# router sends reads of REPLICA_READ_MODELS in GET requests to one of them (oms/routers.py).
DATABASES = databases(
    env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
    env.list("DATABASE_REPLICA_URLS", default=[]),
    conn_max_age=env.int("CONN_MAX_AGE", default=60),
    pooler=env.str("DATABASE_POOLER", default=""),
    pool=env.bool("DATABASE_POOL", default=False),
    statement_timeout_ms=REQUEST_STATEMENT_TIMEOUT_MS,
)
DATABASE_REPLICAS = [alias for alias in DATABASES if alias != "default"]
DATABASE_ROUTERS = ["oms.db.routers.ReplicaRouter"]
REPLICA_READ_MODELS = ["customers.Customer", "channels.Channel"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Seconds a write transaction of the service (import batch, demo batch, admin save, model
# save) may stay open: oms.db.transactions.bounded_transaction rolls back one that lasts
# longer. BI tools look back SYNC_LOOKBACK seconds before their watermark (docs/syncing.md),
# which must cover twice the bound (a process stalled between its last check and COMMIT)
# plus the clock error of two hosts; SYNC_LOOKBACK is documented to clients, so it is fixed.
WRITE_TRANSACTION_TIMEOUT = env.float("WRITE_TRANSACTION_TIMEOUT", default=60.0)
SYNC_LOOKBACK = 300
SYNC_CLOCK_SKEW = 30  # seconds a writing host's clock may be off, each way
if not 0 < WRITE_TRANSACTION_TIMEOUT <= (SYNC_LOOKBACK - 2 * SYNC_CLOCK_SKEW) / 2:
    raise ImproperlyConfigured(
        f"WRITE_TRANSACTION_TIMEOUT must be above 0 and at most "
        f"{(SYNC_LOOKBACK - 2 * SYNC_CLOCK_SKEW) // 2} seconds: BI tools' sync lookback of "
        f"{SYNC_LOOKBACK} s must cover twice the bound plus {SYNC_CLOCK_SKEW} s of clock error "
        "each way."
    )

# Seconds a commit may take to become visible to readers after the database has checked it
# against the write bound (WAL flush; with synchronous replication, the standby's answer).
# Cursor pages hold back rows stamped within WRITE_TRANSACTION_TIMEOUT + COMMIT_MARGIN.
COMMIT_MARGIN = env.float("COMMIT_MARGIN", default=5.0)
if COMMIT_MARGIN < 0:
    raise ImproperlyConfigured("COMMIT_MARGIN must be 0 or more seconds.")

# Days deletion records are kept (prune_deleted_items removes older ones); a request for
# deletions from before what is kept gets 410, telling the client to load everything again.
DELETED_ITEMS_RETENTION_DAYS = env.int("DELETED_ITEMS_RETENTION_DAYS", default=90)
if DELETED_ITEMS_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("DELETED_ITEMS_RETENTION_DAYS must be at least 1.")

# Export jobs (exports app): where their files are written (a folder every web process and
# the job runner share) and how long a finished job's file is kept.
EXPORT_JOBS_DIR = env.path("EXPORT_JOBS_DIR", default=BASE_DIR / "export-jobs")
EXPORT_JOBS_TTL_HOURS = env.float("EXPORT_JOBS_TTL_HOURS", default=24.0)

# Redis when REDIS_URL is set (shared by every worker and host), else per-process memory.
# A Redis that fails or hangs costs one call REDIS_TIMEOUT_MS; the breaker then answers
# "unavailable" at once for REDIS_BREAKER_SECONDS before trying again (oms.db.cache).
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_TIMEOUT_SECONDS = env.int("REDIS_TIMEOUT_MS", default=100) / 1000
CACHES = {
    "default": (
        {
            "BACKEND": "oms.db.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
                "BREAKER_OPEN_SECONDS": env.float("REDIS_BREAKER_SECONDS", default=5.0),
            },
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# The web processes of a host (config/workers.py): while Redis is unavailable each counts
# its own requests against this share of every rate limit (oms.api.throttling).
WEB_CONCURRENCY = web_concurrency()

# ModelBackend with each user's permission set cached (invalidated on change), so that an
# API request's permission check costs no query.
AUTHENTICATION_BACKENDS = ["oms.api.permission_cache.CachedPermissionsBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# API datetimes are UTC by contract (see REST_FRAMEWORK["DATETIME_FORMAT"]).
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed files from `collectstatic`, served by WhiteNoise.
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND", default="whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOGIN_URL = "rest_framework:login"
LOGIN_REDIRECT_URL = "/api/v1/oms/customers/list-simple/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The token class comes first so that a request without credentials gets
        # 401 with WWW-Authenticate rather than the session class's 403.
        "oms.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["oms.api.permissions.ModelViewPermission"],
    "DEFAULT_FILTER_BACKENDS": ["oms.api.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "oms.api.pagination.PageLimitPagination",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "oms.api.negotiation.ContentNegotiation",
    "DEFAULT_RENDERER_CLASSES": [
        "oms.api.renderers.JSONRenderer",  # first: the answer to */*; DRF's, dumped by orjson
        "oms.tabular.renderers.CSVRenderer",
        "oms.tabular.renderers.XLSRenderer",
        "oms.api.renderers.BrowsableAPIRenderer",
    ],
    # Six fractional digits always, even when microseconds are zero.
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "PAGE_SIZE": 10,
    "DEFAULT_SCHEMA_CLASS": "oms.api.schema.AutoSchema",
    # Requests per token and view scope, counted in the cache (Redis when REDIS_URL is set,
    # shared by every worker and host); 429 beyond. THROTTLE_RATE is the older name of
    # THROTTLE_RATE_LIST.
    "DEFAULT_THROTTLE_CLASSES": ["oms.api.throttling.ScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "list": env.str(
            "THROTTLE_RATE_LIST", default=env.str("THROTTLE_RATE", default="1000/minute")
        ),
        "export": env.str("THROTTLE_RATE_EXPORT", default="60/minute"),
    },
    # Proxies in front that append the client's address to X-Forwarded-For; with none the
    # header is ignored (a client could forge it), and REMOTE_ADDR is the client.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    # A query cancelled by the statement timeout is a 503, not a 500.
    "EXCEPTION_HANDLER": "oms.api.exceptions.exception_handler",
}

# The model behind oms.api.authentication.TokenAuthentication (hashed, expiring, revocable keys).
OMS_TOKEN_MODEL = "tokens.APIToken"

# The OpenAPI schema served at /api/schema/; oms.api.schema derives most of it from the views.
SPECTACULAR_SETTINGS = {
    "TITLE": "OMS customer service API",
    "DESCRIPTION": (
        "Customers of the OMS, page by page, in JSON, CSV or Excel. Every request carries a "
        "token: `Authorization: Token <key>` (or `Bearer <key>`). Unknown query parameters "
        "and empty values (`?email=`) are ignored; an empty `cursor` starts cursor pages."
    ),
    "VERSION": version("oms-customers"),
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",  # drf-spectacular's default
        "oms.api.schema.security_schemes_in_operation_order",  # Swagger UI's Authorize: token first
    ],
    # Tags (and Swagger UI's groups) from the path after this prefix: "customers".
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+/oms",
    # Read-only fields (ids, dates) stay out of request bodies of future write endpoints.
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto / X-Forwarded-Host so that
# pagination links carry the public scheme and host.
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)

# Secure by default outside DEBUG; each switch can be turned off from the environment.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]  # scraped over the internal network
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# One JSON object per line on stderr; `LOG_FORMAT=plain` for humans.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "oms.http.logging.JSONFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "filters": {"not_unavailable": {"()": "oms.http.logging.SkipServiceUnavailable"}},
    "loggers": {
        # oms.access logs every request; Django's own request/server loggers would repeat it.
        # 503s are outages, logged once per interval by oms.db.outages, not once per request.
        "django.request": {"level": "ERROR", "filters": ["not_unavailable"]},
        "django.server": {"level": "ERROR"},
    },
}

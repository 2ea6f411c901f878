"""Settings, read from environment variables (see .env.example).

With none set the project runs on embedded defaults: SQLite, Celery tasks run eagerly
in-process, emails go to the console, Google Wallet is off.
"""

import ipaddress
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.env import env, env_bool, env_int, env_list, env_secret
from config.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

# Without a secret key this is a local run: debug on, development keys. Production sets the
# secrets and leaves debug off; an empty value counts as missing, so a blank line in an .env
# file cannot start a server on a key everybody knows.
_SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
DEBUG = env_bool("DJANGO_DEBUG", _SECRET_KEY is None)
if not DEBUG:
    for _name in ("DJANGO_SECRET_KEY", "PIN_SECRET"):
        if env_secret(_name) is None:
            raise ImproperlyConfigured(
                f"{_name} must be set, and not empty, when DJANGO_DEBUG is off"
            )
SECRET_KEY = _SECRET_KEY or "insecure-development-key-for-local-runs-only"
# Old keys, still accepted for signatures and sessions while they are rotated out.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# Staff PINs are stored as an HMAC keyed with this secret (see loyalty.pins). A PIN whose
# digest was made with a fallback is still accepted, and re-keyed on its next right entry.
PIN_SECRET = env_secret("PIN_SECRET") or "insecure-development-pin-secret-for-local-runs-only"
PIN_SECRET_FALLBACKS = env_list("PIN_SECRET_FALLBACKS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "django_celery_beat",
    "anymail",
    "merchants",
    "customers",
    "messaging",
    "loyalty",
]
SITE_ID = 1

MIDDLEWARE = [
    # First: every record of the request carries its id (README, "Logs").
    "config.logs.RequestIdMiddleware",
    # Next: every answer counts, whichever middleware gives it, and its time is all of it.
    "config.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files with far-future caching of their hashed names, before anything else runs.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "loyalty.pages.context.pages",
            ],
        },
    },
]

_DATABASE_URL = env("DATABASE_URL")
if _DATABASE_URL:
    if not _DATABASE_URL.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// or postgresql:// URL")
    DATABASES = {"default": dj_database_url.parse(_DATABASE_URL, conn_max_age=60)}
    # Reused connections are not checked before each request: the check is a round trip on
    # every request, to spare the one request per connection that fails after the database
    # restarts (Django then drops the broken connection). DATABASE_HEALTH_CHECKS=true checks.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("DATABASE_HEALTH_CHECKS", False)
    DATABASES["default"].setdefault("OPTIONS", {})
    # Parameters bound by the server, and statements run often prepared on each connection:
    # the terminal API runs the same few statements all day, and PostgreSQL then skips
    # parsing and planning them. (A pooler in front of PostgreSQL must support prepared
    # statements, as PgBouncer 1.21+ does with max_prepared_statements.)
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
    # Bound every lock wait: a terminal call never hangs on a busy card.
    DATABASES["default"]["OPTIONS"]["options"] = (
        f"-c lock_timeout={env_int('DATABASE_LOCK_TIMEOUT_MS', 3000)}"
    )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
# A read replica of the primary (PostgreSQL streaming replication): the merchants' analytics
# read from it, so that a dashboard never slows the terminals. Without it they read the primary.
_DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL")
if _DATABASE_REPLICA_URL:
    if not _DATABASE_URL:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs DATABASE_URL (the primary)")
    if not _DATABASE_REPLICA_URL.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL must be a postgres:// or postgresql:// URL"
        )
    DATABASES["replica"] = dj_database_url.parse(_DATABASE_REPLICA_URL, conn_max_age=60)
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = DATABASES["default"]["CONN_HEALTH_CHECKS"]
    DATABASES["replica"]["OPTIONS"] = dict(DATABASES["default"]["OPTIONS"])
    # Tests run against the primary's test database: the replica mirrors it.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
ANALYTICS_DATABASE = "replica" if "replica" in DATABASES else "default"
DATABASE_ROUTERS = ["loyalty.analytics.router.AnalyticsRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_REDIS_CACHE_URL = env("CACHE_URL")
if _REDIS_CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _REDIS_CACHE_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "French"), ("de", "German"), ("lb", "Luxembourgish")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The project's catalogues (customer pages, emails' pages), compiled .mo files committed beside
# their .po files: `python3 dev.py messages` compiles them (README, "Customer pages").
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Without debug, static files are served by whitenoise from STATIC_ROOT (`collectstatic`) under
# names carrying a hash of their content, cached by browsers for a year; with debug, as they are.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Security: on by default whenever DEBUG is off.
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^readyz/$", r"^metrics$"]

# Client IP: the number of reverse proxies in front of the app that append to
# X-Forwarded-For. 0 (the default) ignores the header, which any client can write. The admin
# login throttle and the per-address rate limits both count by config.client_ip.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more")
RATELIMIT_IP_META_KEY = "config.client_ip.client_ip"

# Prometheus metrics (README, "Metrics"): /metrics answers a request carrying
# `Authorization: Bearer <METRICS_TOKEN>`, or one from an address in METRICS_ALLOWED_IPS
# (addresses or networks, comma-separated, the client as config.client_ip sees it); anything
# else is 403. Neither set: nobody reads them.
METRICS_TOKEN = env_secret("METRICS_TOKEN") or ""
try:
    METRICS_ALLOWED_IPS = [
        ipaddress.ip_network(entry, strict=False) for entry in env_list("METRICS_ALLOWED_IPS", [])
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {exc}") from None
# Where every process writes its figures (read by prometheus_client itself, from the
# environment), and the directories a scrape adds up: by default that one; more when
# processes of several containers write to directories of their own on a shared volume.
_PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR")
METRICS_MULTIPROC_DIRS = env_list(
    "METRICS_MULTIPROC_DIRS", [_PROMETHEUS_MULTIPROC_DIR] if _PROMETHEUS_MULTIPROC_DIR else []
)

# Admin login throttling (django-axes): 5 failed logins for one username from one address
# lock that pair out for 15 minutes; a right password clears the count. Attempts are rows in
# the database, shared by every web process. `manage.py axes_reset` lifts every lockout.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "config.admin_lockout.locked_out"

# Content-Security-Policy on every response (django-csp): scripts, styles, fonts and
# everything else from this origin only. The few inline blocks (the API docs' style) carry
# the request's nonce; no 'unsafe-inline', no 'unsafe-eval'.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["loyalty.api.parsers.NestingLimitedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "loyalty.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty platform API",
    "DESCRIPTION": "Points and stamp programmes: store terminals, merchants and operators.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc served from our static files, at the version pinned in pyproject.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TAGS": [
        {"name": "Loyalty - Store", "description": "Store terminals: cards, points, stamps."},
        {"name": "Loyalty - Merchant", "description": "Merchants' managers."},
        {"name": "Loyalty - Admin", "description": "Platform operators."},
        {"name": "Loyalty - Public", "description": "Customers, without a key."},
    ],
}

# Terminal API rate limits, per terminal key (django-ratelimit rates: count/period); "read"
# caps the card and ledger lookups together. Each can be set from the environment, e.g.
# TERMINAL_RATE_LIMIT_EARN=120/m; RATELIMIT_ENABLE=false
# turns limiting off (load tests). The counts live in the default cache, which must be shared
# by every web process (CACHE_URL) for a cap to hold across them.
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
TERMINAL_RATE_LIMITS = {
    scope: env(f"TERMINAL_RATE_LIMIT_{scope.upper()}", default)
    for scope, default in {
        "read": "300/m",
        "program": "30/m",
        "enroll": "10/m",
        "earn": "60/m",
        "stamps": "60/m",
        "redeem": "30/m",
        "stamps_redeem": "30/m",
        "void": "20/m",
        "adjust": "20/m",
        "unlock": "10/m",
    }.items()
}
for _scope, _rate in TERMINAL_RATE_LIMITS.items():
    if not re.fullmatch(r"[1-9][0-9]*/[1-9]?[0-9]*[smhd]", _rate):
        raise ImproperlyConfigured(
            f"TERMINAL_RATE_LIMIT_{_scope.upper()} must look like 60/m, not {_rate!r}"
        )

# Customer pages (loyalty.pages): per client IP, enrolments and lost-link requests (POSTs,
# valid or not); per email address, the card-link emails the pages send (already enrolled,
# lost link), so that nobody can flood an inbox through the forms. Per client IP too, the
# counter tablet's pairing codes tried (loyalty.counter).
PAGE_RATE_LIMITS = {
    scope: env(f"PAGE_RATE_LIMIT_{scope.upper()}", default)
    for scope, default in {
        "enroll": "10/m",
        "lost_link": "5/m",
        "link_email": "3/h",
        "pair": "10/m",
    }.items()
}
for _scope, _rate in PAGE_RATE_LIMITS.items():
    if not re.fullmatch(r"[1-9][0-9]*/[1-9]?[0-9]*[smhd]", _rate):
        raise ImproperlyConfigured(
            f"PAGE_RATE_LIMIT_{_scope.upper()} must look like 10/m, not {_rate!r}"
        )
# Card links (loyalty.card_links) stop working this many days after they were sent.
CARD_LINK_MAX_AGE_DAYS = env_int("CARD_LINK_MAX_AGE_DAYS", 365)
if CARD_LINK_MAX_AGE_DAYS < 1:
    raise ImproperlyConfigured("CARD_LINK_MAX_AGE_DAYS must be 1 or more")
# The platform's name on the landing and error pages.
SITE_NAME = env("SITE_NAME", "Loyalty cards")

# Celery: eager in-process unless a broker is configured.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_IGNORE_RESULT = True
# Every task has a time limit; a longer job sets its own (loyalty.tasks).
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 5 * 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 6 * 60)
# Late-acknowledged tasks take one message at a time, and Redis must not hand a running task
# to a second worker: its visibility timeout outlasts the longest time limit.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60, "socket_connect_timeout": 5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The schedule lives in the database and is edited in the admin; run exactly one beat.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Email: console by default; production names an anymail backend and its settings (README,
# "Email"). Each email is a row of the outbox (messaging.OutgoingEmail); the sender task sends
# it after the commit that queued it, and every minute. EMAIL_SEND_AFTER_COMMIT=false leaves
# sending to the schedule alone (benchmarks that queue without sending).
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "loyalty@localhost")
EMAIL_SEND_AFTER_COMMIT = env_bool("EMAIL_SEND_AFTER_COMMIT", True)
# Where customers reach the site: the links in emails (card, unsubscribe) start with it.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
ANYMAIL = {
    key: value
    for key, value in {
        "POSTMARK_SERVER_TOKEN": env("POSTMARK_SERVER_TOKEN"),
        "POSTMARK_API_URL": env("POSTMARK_API_URL"),
        "SENDGRID_API_KEY": env("SENDGRID_API_KEY"),
        "MAILGUN_API_KEY": env("MAILGUN_API_KEY"),
        "MAILGUN_SENDER_DOMAIN": env("MAILGUN_SENDER_DOMAIN"),
        "MAILGUN_WEBHOOK_SIGNING_KEY": env("MAILGUN_WEBHOOK_SIGNING_KEY"),
        # user:password, the basic auth the ESP's webhook calls carry.
        "WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET"),
    }.items()
    if value
}

# Google Wallet: off unless an issuer is set; then the service account's JSON key file must
# be valid (system check loyalty.E002-E006; README, "Google Wallet").
GOOGLE_WALLET_ISSUER_ID = env("GOOGLE_WALLET_ISSUER_ID", "")
GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = env("GOOGLE_WALLET_SERVICE_ACCOUNT_FILE", "")
GOOGLE_WALLET_API_URL = env(
    "GOOGLE_WALLET_API_URL", "https://walletobjects.googleapis.com/walletobjects/v1"
)

# Logs (README, "Logs"): plain lines by default, one JSON object per line with
# LOG_FORMAT=json (production). Every record is masked and carries the request id.
LOG_FORMAT = env("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env("LOG_LEVEL", "INFO"))

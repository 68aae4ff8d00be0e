from debunk.admin import apikeys, audit, platform, rumors  # noqa: F401  (registers the admin classes)

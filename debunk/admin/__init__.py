from debunk.admin import apikeys, audit, matches, platform, rumors  # noqa: F401  (registers the admin classes)

from debunk.admin import audit, platform, rumors  # noqa: F401  (registers the admin classes)

"""Django imports this module to register the admin: each part registers its own model admins."""

import debunk.api.admin
import debunk.core.admin
import debunk.corrections.admin
import debunk.images.admin
import debunk.matching.admin
import debunk.reports.admin
import debunk.reports.admin_handover
import debunk.sanctions.admin
import debunk.stock.admin
import debunk.tracing.admin
import debunk.warning.admin
import debunk.webhooks.admin  # noqa: F401

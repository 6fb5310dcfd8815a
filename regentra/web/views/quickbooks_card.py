"""The QuickBooks card's data on Settings → Integrations (`integrations/_quickbooks.html`), and
the page's policy for its Connect form. The card's routes are in `web/views/quickbooks.py`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from regentra.integrations.quickbooks import oauth, settings


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def card(session: Session, *, org_id: uuid.UUID, error: str | None = None) -> dict[str, Any]:
    """What the QuickBooks card (`integrations/_quickbooks.html`) shows."""
    state = settings.status(session, org_id=org_id)
    return {
        **state,
        "error": error,
        "connected_on": _when(state["connected_at"]),
        "reconnect_on": _when(state["reconnect_needed_at"]),
        "authorization_until": _when(state["refresh_expires_at"]),
    }


def connect_form_targets() -> list[str]:
    """The page's Connect form answers with a redirect to Intuit's authorize page: its
    `form-action` must let the browser follow it there (Chromium checks redirects too)."""
    return [] if oauth.missing_settings() else [oauth.authorize_origin()]

"""Response models of Settings → Integrations → QuickBooks (`integrations/quickbooks/
settings.status`). Never a token: only when they expire."""

from __future__ import annotations

from pydantic import BaseModel, Field

from regentra.kit.time import IsoDatetime


class QuickBooksStatus(BaseModel):
    """The org's QuickBooks Online connection."""

    configured: bool = Field(description="The server has QuickBooks app keys (REGENTRA_QBO_*)")
    missing_settings: list[str] = Field(
        description="The REGENTRA_QBO_* settings the server's operator must still set"
    )
    redirect_uri: str = Field(
        description="The redirect URI to register for the app in Intuit's developer portal"
    )
    connected: bool
    realm_id: str | None = Field(description="The QuickBooks company (realm) id")
    company_name: str | None
    home_currency: str | None
    multicurrency: bool | None
    connected_at: IsoDatetime | None
    reconnect_needed: bool = Field(
        description="Intuit refused the saved authorization for good (revoked, expired): "
        "postings wait until an admin connects again"
    )
    reconnect_reason: str | None
    reconnect_needed_at: IsoDatetime | None
    access_expires_at: IsoDatetime | None
    refresh_expires_at: IsoDatetime | None
    link: str | None = Field(description="Where to see the company in QuickBooks")


class QuickBooksAuthorizeUrl(BaseModel):
    authorize_url: str = Field(
        description="Send the admin's browser here; Intuit returns it to the redirect URI "
        "(the app's callback page), which completes the connection"
    )

"""Stripe: the org's own account (invoices, catalog, webhooks)."""

"""Platform billing: each org's Regentra subscription, through the platform's own Stripe
account (`REGENTRA_PLATFORM_STRIPE_SECRET_KEY`). Stripe calls go through
`integrations/stripe/client.py` (`client.for_platform`)."""

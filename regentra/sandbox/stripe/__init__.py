"""A stateful local emulator of the Stripe API, held to the installed SDK's contract."""

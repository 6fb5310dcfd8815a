"""A local emulator of Intuit OAuth 2 and the QuickBooks Online v3 accounting API (tests and
the offline demo only; see README.md for the rules it enforces and their sources)."""

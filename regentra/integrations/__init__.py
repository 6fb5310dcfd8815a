"""Vendor integrations. Each one does the calling when a vendor must react; domains never
call vendors."""

"""QuickBooks Online: connection, mapping and postings (issue 12)."""

"""Each org's standing with the platform: trial, subscription status, what it may do."""

"""Which emails are owed, sending one delivery effectively once, and signed links."""

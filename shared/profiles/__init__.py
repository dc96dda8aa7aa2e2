"""Council and supplier profiles: validation, storing versions, submitting one, drafts,
erasure, retention and demo profiles.
"""

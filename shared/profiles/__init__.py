"""Council and supplier profiles: validation, storing versions, drafts, erasure, retention
and demo profiles.
"""

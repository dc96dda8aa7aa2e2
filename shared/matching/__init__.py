"""The matching model, pure (no database): records in, ranked partners with reasons out.

The index and its column store, the context model and text similarity live here.
"""

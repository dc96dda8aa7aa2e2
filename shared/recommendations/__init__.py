"""Recommendations: match runs, the live index, consuming an event, refreshing partners,
confirmed addresses, introductions, feedback and the emails about them.
"""

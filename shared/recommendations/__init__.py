"""Recommendations: match runs, the live index, consuming an event, refreshing
partners, introductions and feedback.
"""

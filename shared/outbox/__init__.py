"""The outbox: events recorded in the database and published after commit, attempts
and dead letters.
"""

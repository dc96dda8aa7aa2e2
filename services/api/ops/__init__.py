"""/ops: what operations staff see and repair. Every figure is read from the database and Redis."""

from partnermatch.services.api.ops.views import bp

__all__ = ["bp"]

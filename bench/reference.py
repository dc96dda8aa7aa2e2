"""The public data the reports read, from REFERENCE_DATA_DIR (default: the shipped copy)."""

from __future__ import annotations

from functools import cache

from bench.legacy_context import ContextModel as LegacyModel
from partnermatch.config.settings import load_settings
from partnermatch.shared.matching.context import ContextModel
from partnermatch.shared.reference.readers import read_councils
from partnermatch.shared.reference.records import CouncilRecord


def data_dir(override: str | None = None) -> str:
    """Return the folder of public data: the override, else the configured one."""
    return override or load_settings().REFERENCE_DATA_DIR


@cache
def councils(folder: str) -> tuple[CouncilRecord, ...]:
    """Read the councils once per run."""
    return tuple(read_councils(folder))


def context_model(folder: str) -> ContextModel:
    """Fit the production context model on every council's place."""
    return ContextModel.fit([r.place for r in councils(folder)])


def legacy_context_model(folder: str) -> LegacyModel:
    """Fit the context model as it was before the Census context, for comparison."""
    return LegacyModel.fit([r.place for r in councils(folder)])


@cache
def load_outcome_sets(override: str | None = None):
    """Return the scored areas' outcome sets (see ``bench.outcomes``)."""
    from bench.outcomes import outcome_sets

    folder = data_dir(override)
    return outcome_sets(councils(folder), context_model(folder), folder,
                        legacy_context_model(folder))

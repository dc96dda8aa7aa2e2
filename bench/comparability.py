"""Are the partners a council is recommended comparable to it? A yardstick from open data.

Every English council that runs the area and is weak in it (children's services: Ofsted requires
improvement or inadequate; adult social care: the demo's rating from ASCOF, bottom two fifths)
asks for ``TOP`` partners among the strong ones (rated 4 or 5), and each method answers. The
yardstick is the test behind the DfE statistical neighbours turned on the recommendations: the
mean of the partners' outcome indicators (``bench.outcomes``: LAIT by topic for children's
services, ASCOF for adult social care) predicts the requester's own; the lower the error, the more
alike in circumstances the partners are. No method sees these outcomes, with one caveat for adult
social care: its ratings come from the same ASCOF measures, so every partner there is strong in
them and all methods' errors carry the same gap in level. Beside it, the share of partners rated
outstanding (5), because comparable but merely good partners are not the point either.

Both at once, as precision@10 and nDCG@10: a requester's comparable partners are the ``COMPARABLE``
strong councils whose own outcomes are nearest its own (the same mean absolute error, partner by
partner); precision@10 is the share of the ten partners among them, and nDCG@10 gives each of them
a gain of 2 if rated outstanding, 1 if good, against the best order of the strong councils.

Methods, all computed in the same run on the same requests:
- the model: ``MatchIndex`` as in production (diversity counted over the requests in order);
- the model without diversity;
- outstanding first, then nearest by the same context (the naive ranking the issue names);
- the same naive ranking by the context model before the Census context;
- context only: the nearest strong councils, whatever their grade;
- random strong councils.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import fmean

import numpy as np

from bench.legacy_context import ContextModel as LegacyModel
from bench.outcomes import OutcomeSet
from partnermatch.shared.matching.context import ContextModel
from partnermatch.shared.matching.index import UNKNOWN_CAPACITY, MatchIndex
from partnermatch.shared.matching.reasons import PUBLIC_DATA
from partnermatch.shared.profiles.demo import MIN_MEASURES, OFSTED_RATINGS, Z_CLIP, latest_graded
from partnermatch.shared.reference.records import Candidate, CouncilRecord, MatchRequest
from partnermatch.shared.reference.taxonomy import STRONG_MIN, STRUGGLING_MAX, delivers

AREAS = ("childrens_services", "adult_social_care")
TOP = 10
COMPARABLE = 15  # a requester's comparable strong councils: those whose outcomes are nearest
RANDOM_DRAWS = 50


@dataclass(frozen=True)
class Council:
    """One council that runs the area, with its rating there."""

    gss: str
    record: CouncilRecord
    rating: int


def rated(records: Sequence[CouncilRecord], area: str) -> list[Council]:
    """Return the English councils that run an area, rated as the demo profiles are."""
    found = []
    runs = [r for r in records if r.nation == "England" and delivers(r.place.council_type, area)]
    if area == "childrens_services":
        for record in runs:
            graded = latest_graded(list(record.ofsted_history))
            if graded is not None:
                found.append(Council(record.place.gss_code, record, OFSTED_RATINGS[graded.overall]))
        return found
    scores = {}
    for record in runs:
        values = [max(-Z_CLIP, min(Z_CLIP, z)) for key, z in record.outcome_indicators.items()
                  if key.startswith("asc:")]
        if len(values) >= MIN_MEASURES:
            scores[record.place.gss_code] = (record, fmean(values))
    ordered = sorted(score for _, score in scores.values())
    for gss, (record, score) in scores.items():
        below = sum(1 for value in ordered if value < score) / len(ordered)
        found.append(Council(gss, record, 1 + min(4, int(5 * below))))
    return found


Method = Callable[[Council, list[Council]], list[str]]


def model_method(context: ContextModel, area: str, everyone: list[Council],
                 diversity: bool = True) -> Method:
    """Return the production ranking over the strong councils, one index for all requests
    (profiled as the demo profiles are: from public data, capacity unknown)."""
    index = MatchIndex(context)
    index.extend(Candidate(
        profile_id=c.gss, kind="council", name=c.record.place.name, ratings={area: c.rating},
        capacity_to_support=UNKNOWN_CAPACITY, gss_code=c.gss,
        council_type=c.record.place.council_type, rating_source=PUBLIC_DATA)
        for c in everyone if c.rating >= STRONG_MIN)

    def run(requester: Council, strong: list[Council]) -> list[str]:
        place = requester.record.place
        request = MatchRequest(profile_id=f"request:{requester.gss}", kind="council",
                               ratings={area: requester.rating}, seeking=("council",),
                               gss_code=requester.gss, council_type=place.council_type,
                               region=place.region)
        partners = index.match(request, limit=TOP)[0].partners
        if diversity:
            index.record_recommended(p.profile_id for p in partners)
        return [p.gss_code for p in partners]

    return run


def naive_method(context: ContextModel | LegacyModel, area: str,
                 outstanding_first: bool = True) -> Method:
    """Return outstanding first (if asked), then nearest by a context model."""
    def run(requester: Council, strong: list[Council]) -> list[str]:
        similarity = context.similarities(requester.gss, [c.gss for c in strong], area)
        grade = [-c.rating if outstanding_first else 0 for c in strong]
        order = np.lexsort((np.arange(len(strong)), -similarity, grade))
        return [strong[i].gss for i in order[:TOP]]

    return run


def random_method(seed: int = 3) -> Method:
    rng = np.random.default_rng(seed)

    def run(requester: Council, strong: list[Council]) -> list[str]:
        return [strong[i].gss for i in rng.permutation(len(strong))[:TOP]]

    return run


@dataclass(frozen=True)
class Scores:
    """Per requester: the partners' outcome-prediction error, their share rated 5, and the
    top ten's precision and nDCG for partners both strong and comparable."""

    error: np.ndarray
    outstanding: np.ndarray
    precision: np.ndarray
    ndcg: np.ndarray


def score(method: Method, requesters: list[Council], strong: list[Council],
          outcomes: OutcomeSet, draws: int = 1) -> Scores:
    """Run a method for every requester and score its partners."""
    row = {gss: i for i, gss in enumerate(outcomes.codes)}
    ratings = {c.gss: c.rating for c in strong}
    errors, outstanding, precision, ndcg = [], [], [], []
    for requester in requesters:
        pool = [c for c in strong if c.gss != requester.gss]
        runs = [method(requester, pool) for _ in range(draws)]
        errors.append(np.nanmean([_error(outcomes, row, requester.gss, gss) for gss in runs]))
        outstanding.append(np.mean([[ratings[g] == 5 for g in gss] for gss in runs]))
        gains = _gains(outcomes, row, requester.gss, pool)
        ideal = _dcg(sorted(gains.values(), reverse=True))
        precision.append(np.mean([sum(g in gains for g in gss) / TOP for gss in runs]))
        ndcg.append(np.mean([_dcg([gains.get(g, 0) for g in gss]) / ideal for gss in runs])
                    if ideal else np.nan)
    return Scores(*map(np.array, (errors, outstanding, precision, ndcg)))


def _gains(outcomes: OutcomeSet, row: dict[str, int], requester: str,
           pool: list[Council]) -> dict[str, int]:
    """Return the strong councils comparable to a requester, each with its gain (2 if rated
    outstanding, else 1): the ``COMPARABLE`` whose outcomes are nearest its own."""
    distances = [(_error(outcomes, row, requester, [c.gss]), c) for c in pool]
    known = sorted(((d, c.gss, c) for d, c in distances if not np.isnan(d)),
                   key=lambda item: item[:2])
    return {c.gss: 2 if c.rating == 5 else 1 for _, _, c in known[:COMPARABLE]}


def _dcg(gains: Sequence[float]) -> float:
    return float(sum(g / np.log2(i + 2) for i, g in enumerate(gains[:TOP])))


def _error(outcomes: OutcomeSet, row: dict[str, int], requester: str,
           partners: list[str]) -> float:
    """Return the mean absolute error of predicting a council's outcomes by its partners'."""
    if requester not in row:
        return np.nan
    values = outcomes.values
    picked = values[[row[g] for g in partners if g in row]]
    own = values[row[requester]]
    known = ~np.isnan(own) & (~np.isnan(picked)).any(axis=0)
    if not known.any():
        return np.nan
    prediction = np.nanmean(picked[:, known], axis=0)
    return float(np.mean(np.abs(prediction - own[known])))


def requests(records: Sequence[CouncilRecord], area: str) -> tuple[list[Council], list[Council]]:
    """Return the weak requesters and the strong councils of an area."""
    everyone = rated(records, area)
    weak = [c for c in everyone if c.rating <= STRUGGLING_MAX]
    strong = [c for c in everyone if c.rating >= STRONG_MIN]
    return sorted(weak, key=lambda c: c.gss), strong

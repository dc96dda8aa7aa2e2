"""The ranking held out by time, on Ofsted's inspections of children's services.

At each cutoff date every English council is profiled from the inspections published before it,
exactly as ``partnermatch seed --demo`` profiles councils today (rating from the latest overall
grade, strengths and needs texts from the sub-judgements, trajectory from the grade before). Each
council that was weak at the cutoff (requires improvement or inadequate) asks for partners in
children's services, and each method recommends ``TOP`` councils.

The label: was the recommended partner judged good or outstanding at its next inspection after
the cutoff? That is information no method saw, and it asks the question a struggling council
cares about: is the strength it is being sent to real and lasting? Partners not inspected again
before the data ends are left out of the denominator. We do not score whether the *requester*
improved: nobody acted on these recommendations, so a requester's next grade says nothing about
them, and any link would be confounded (weak councils near other weak councils improve together
under the same regional support).

Cutoffs are pooled; the interval resamples requesting councils, so a council weak at several
cutoffs counts once per draw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from partnermatch.shared.matching.context import ContextModel
from partnermatch.shared.matching.index import UNKNOWN_CAPACITY, MatchIndex
from partnermatch.shared.matching.reasons import PUBLIC_DATA
from partnermatch.shared.profiles.demo import OFSTED_RATINGS, latest_graded, ofsted_lines
from partnermatch.shared.reference.evidence import (
    STRONG_GRADES,
    WEAK_GRADES,
    ofsted_evidence,
    recent_improvement,
)
from partnermatch.shared.reference.records import (
    Candidate,
    CouncilRecord,
    MatchRequest,
    OfstedJudgement,
)

AREA = "childrens_services"
CUTOFFS = ("2019-01-01", "2020-01-01", "2021-01-01", "2022-01-01", "2023-01-01")
TOP = 5
RANDOM_DRAWS = 200


@dataclass(frozen=True)
class Snapshot:
    """What was public about one council at a cutoff, and what happened next."""

    record: CouncilRecord
    before: tuple[OfstedJudgement, ...]  # newest first
    grade: str  # latest overall grade before the cutoff
    next_grade: str | None  # first overall grade after the cutoff

    @property
    def gss(self) -> str:
        return self.record.place.gss_code

    @property
    def label(self) -> float:
        """1 if judged good or outstanding next time, 0 if not, NaN if not inspected again."""
        return np.nan if self.next_grade is None else float(self.next_grade in STRONG_GRADES)


def snapshots(records: Sequence[CouncilRecord], cutoff: str) -> list[Snapshot]:
    """Return every council with an overall grade published before the cutoff."""
    found = []
    for record in records:
        dated = [j for j in record.ofsted_history if j.published]
        before = tuple(j for j in dated if j.published < cutoff)
        after = [j for j in reversed(dated) if j.published >= cutoff and j.overall]
        graded = latest_graded(list(before))
        if graded is not None:
            found.append(Snapshot(record, before, graded.overall,
                                  after[0].overall if after else None))
    return found


def candidate(snapshot: Snapshot, trajectory: bool = True) -> Candidate:
    """Profile a council from what was public at the cutoff, as the demo seeding does."""
    ratings = {AREA: OFSTED_RATINGS[snapshot.grade]}
    strengths, _ = ofsted_lines(list(snapshot.before))
    improved = trajectory and recent_improvement(snapshot.before) is not None
    place = snapshot.record.place
    return Candidate(
        profile_id=snapshot.gss, kind="council", name=place.name, ratings=ratings,
        strengths_text="\n".join(strengths), capacity_to_support=UNKNOWN_CAPACITY,
        gss_code=place.gss_code, council_type=place.council_type,
        evidence={AREA: ofsted_evidence(snapshot.before)}, rating_source=PUBLIC_DATA,
        improved=(AREA,) if improved else ())


def request(snapshot: Snapshot) -> MatchRequest:
    """Return a weak council's request for partners in children's services."""
    _, needs = ofsted_lines(list(snapshot.before))
    place = snapshot.record.place
    return MatchRequest(
        profile_id=f"request:{snapshot.gss}", kind="council",
        ratings={AREA: OFSTED_RATINGS[snapshot.grade]}, needs_text="\n".join(needs),
        seeking=("council",), gss_code=place.gss_code, council_type=place.council_type,
        region=place.region)


@dataclass(frozen=True)
class Query:
    """One weak council at one cutoff, and everyone it could be sent to."""

    cutoff: str
    requester: Snapshot
    others: tuple[Snapshot, ...]


def queries(records: Sequence[CouncilRecord]) -> list[Query]:
    """Return every (cutoff, weak council) pair, in a fixed order."""
    found = []
    for cutoff in CUTOFFS:
        everyone = sorted(snapshots(records, cutoff), key=lambda s: s.gss)
        for snapshot in everyone:
            if snapshot.grade in WEAK_GRADES:
                others = tuple(s for s in everyone if s.gss != snapshot.gss)
                found.append(Query(cutoff, snapshot, others))
    return found


def precision(chosen: Sequence[Snapshot]) -> float:
    """Return the share of labelled partners judged good or outstanding next time."""
    labels = np.array([s.label for s in chosen], dtype=float)
    labels = labels[~np.isnan(labels)]
    return float(labels.mean()) if labels.size else np.nan


Method = Callable[[Sequence[Query]], np.ndarray]


def model_method(context: ContextModel, trajectory: bool = True,
                 diversity: bool = True) -> Method:
    """Return the production ranking (``MatchIndex``), one index per cutoff."""

    def run(batch: Sequence[Query]) -> np.ndarray:
        scores = []
        for cutoff in dict.fromkeys(q.cutoff for q in batch):
            asked = [q for q in batch if q.cutoff == cutoff]
            everyone = {s.gss: s for q in asked for s in (q.requester, *q.others)}
            index = MatchIndex(context)
            index.extend(candidate(s, trajectory) for s in everyone.values())
            for query in asked:
                partners = index.match(request(query.requester), limit=TOP)[0].partners
                if diversity:
                    index.record_recommended(p.profile_id for p in partners)
                scores.append(precision([everyone[p.gss_code] for p in partners]))
        return np.array(scores)

    return run


def context_only(context: ContextModel) -> Method:
    """Return the statistical-neighbours baseline: the most alike councils, whatever their grade."""

    def run(batch: Sequence[Query]) -> np.ndarray:
        scores = []
        for query in batch:
            codes = [s.gss for s in query.others]
            similarity = context.similarities(query.requester.gss, codes, AREA)
            order = np.argsort(-similarity, kind="stable")[:TOP]
            scores.append(precision([query.others[i] for i in order]))
        return np.array(scores)

    return run


def outstanding_then_nearest(context: ContextModel) -> Method:
    """Return the naive ranking: outstanding councils first, then good ones, each by context."""

    def run(batch: Sequence[Query]) -> np.ndarray:
        scores = []
        for query in batch:
            strong = _strong(query)
            similarity = context.similarities(query.requester.gss, [s.gss for s in strong], AREA)
            grade = [-OFSTED_RATINGS[s.grade] for s in strong]
            order = np.lexsort((np.arange(len(strong)), -similarity, grade))[:TOP]
            scores.append(precision([strong[i] for i in order]))
        return np.array(scores)

    return run


def _strong(query: Query) -> list[Snapshot]:
    return [s for s in query.others if s.grade in STRONG_GRADES]


def random_strong(seed: int = 3) -> Method:
    """Return the random baseline: any council strong at the cutoff, averaged over draws."""
    return _drawn(lambda strong, rng: rng.permutation(len(strong)), seed)


def strength_only(seed: int = 5) -> Method:
    """Return outstanding councils first, then good ones, in random order within each grade."""
    def order(strong: list[Snapshot], rng: np.random.Generator) -> np.ndarray:
        return np.lexsort((rng.random(len(strong)), [-OFSTED_RATINGS[s.grade] for s in strong]))

    return _drawn(order, seed)


def _drawn(order: Callable[[list[Snapshot], np.random.Generator], np.ndarray],
           seed: int) -> Method:
    def run(batch: Sequence[Query]) -> np.ndarray:
        rng = np.random.default_rng(seed)
        scores = []
        for query in batch:
            strong = _strong(query)
            draws = [precision([strong[i] for i in order(strong, rng)[:TOP]])
                     for _ in range(RANDOM_DRAWS)]
            scores.append(np.nanmean(draws))
        return np.array(scores)

    return run

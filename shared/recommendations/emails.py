"""The emails about recommendations and introductions, and composing any owed email.

What these emails say is read from this room (rankings, introductions); building, addressing and
sending them is partnermatch.shared.notifications.delivery's, which composes the other purposes.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from functools import partial

from sqlalchemy.orm import Session

from partnermatch.shared.db.models import EmailDelivery, Introduction, MatchRun, Profile
from partnermatch.shared.email import (
    RenderedEmail,
    render_introduction_accepted,
    render_introduction_request,
)
from partnermatch.shared.email import render_recommendations as render_recommendation_email
from partnermatch.shared.notifications import delivery as mailing
from partnermatch.shared.notifications import links
from partnermatch.shared.notifications.delivery import (
    MailSettings,
    display_name,
    profile_url,
    signed_url,
)
from partnermatch.shared.recommendations.introductions import AVAILABLE, areas_asked_about
from partnermatch.shared.recommendations.partners import partner_details
from partnermatch.shared.recommendations.runs import best_of, top_needs
from partnermatch.shared.reference.records import NeedMatches

PARTNERS_PER_NEED_IN_EMAIL = 5


def compose(session: Session, delivery: EmailDelivery, mail: MailSettings,
            ranking: Sequence[NeedMatches] | None = None) -> EmailMessage:
    """Build the message for a claimed delivery of any purpose, with a Message-ID fixed by its id.

    `ranking` is the match run's ranking when the caller holds it (it has just stored it), for a
    recommendations email, which then does not read it back.
    """
    if ranking is not None and delivery.purpose == "recommendations":
        composer = partial(_recommendations, ranking=ranking)
    else:
        composer = COMPOSERS[delivery.purpose]
    return mailing.compose(session, delivery, mail, composer)


def _recommendations(session: Session, profile: Profile, delivery: EmailDelivery,
                     mail: MailSettings, ranking: Sequence[NeedMatches] | None = None,
                     ) -> tuple[RenderedEmail, str]:
    run = session.get(MatchRun, delivery.match_run_id)
    newcomer = None
    if delivery.purpose == "new_partner" and run.refreshed_by:
        newcomer = session.get(Profile, run.refreshed_by)
    needs = (best_of(ranking, PARTNERS_PER_NEED_IN_EMAIL) if ranking is not None
             else top_needs(session, run, PARTNERS_PER_NEED_IN_EMAIL))
    unsubscribe_url = signed_url(mail, "unsubscribe", links.UNSUBSCRIBE,
                                 {"e": delivery.to_address})
    feedback = {
        p.profile_id: tuple(
            signed_url(mail, "feedback", links.FEEDBACK,
                       {"r": run.id, "p": p.profile_id, "u": answer})
            for answer in (1, 0))
        for need in needs for p in need.partners
    }
    partners = partner_details(session, profile, needs, mail.reference_data_dir)
    rendered = render_recommendation_email(
        profile.fields["contact_name"], display_name(profile), needs,
        profile_url(mail, profile), partners.contacts, unsubscribe_url,
        feedback_urls=feedback,
        websites=partners.websites,
        introducible=[pid for pid, option in partners.options.items() if option == AVAILABLE],
        new_partner=display_name(newcomer) if newcomer else None,
        new_partner_areas=[need.service_area for need in needs
                           if newcomer and any(p.profile_id == newcomer.id for p in need.partners)],
    )
    return rendered, unsubscribe_url


def _introduction(session: Session, partner: Profile, delivery: EmailDelivery,
                  mail: MailSettings) -> tuple[RenderedEmail, str]:
    introduction = session.get(Introduction, delivery.introduction_id)
    requester = session.get(Profile, introduction.requester_profile_id)
    decision_url = signed_url(mail, "introductions", links.INTRODUCTION, {"i": introduction.id})
    unsubscribe_url = signed_url(mail, "unsubscribe", links.UNSUBSCRIBE,
                                 {"e": delivery.to_address})
    rendered = render_introduction_request(
        partner.fields["contact_name"], display_name(requester),
        areas_asked_about(session, introduction), requester.fields.get("needs_text", ""),
        decision_url,
    )
    return rendered, unsubscribe_url


def _introduction_accepted(session: Session, requester: Profile, delivery: EmailDelivery,
                           mail: MailSettings) -> tuple[RenderedEmail, None]:
    introduction = session.get(Introduction, delivery.introduction_id)
    partner = session.get(Profile, introduction.partner_profile_id)
    rendered = render_introduction_accepted(
        requester.fields["contact_name"], display_name(partner), partner.fields["contact_name"],
        partner.contact_email, profile_url(mail, requester),
    )
    return rendered, None


COMPOSERS: dict[str, mailing.Composer] = {
    **mailing.COMPOSERS,
    "recommendations": _recommendations,
    "new_partner": _recommendations,  # the same email, opening with who is new
    "introduction": _introduction,
    "introduction_accepted": _introduction_accepted,
}

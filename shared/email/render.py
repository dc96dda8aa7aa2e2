"""Render the emails partnermatch sends: a subject, a plain-text part and an HTML part."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from partnermatch.shared.email.message import one_line
from partnermatch.shared.reference.records import NeedMatches, Partner
from partnermatch.shared.reference.taxonomy import SERVICE_AREAS
from partnermatch.shared.reference.websites import Website

CONFIRMATION_SUBJECT = "Confirm your email address for partnermatch"
LINK_SUBJECT = "Your link to partnermatch"
INTRODUCTION_TEXT_LIMIT = 1_000

_LOADER = FileSystemLoader(Path(__file__).parent / "templates")
_OPTIONS: dict[str, Any] = {
    "undefined": StrictUndefined, "trim_blocks": True, "lstrip_blocks": True
}
_HTML = Environment(loader=_LOADER, autoescape=True, **_OPTIONS)
# Plain text is not HTML: escaping it would show "&lt;" to the reader.
_TEXT = Environment(loader=_LOADER, autoescape=False, keep_trailing_newline=True, **_OPTIONS)  # noqa: S701
_KINDS = {"council": "Council", "supplier": "Supplier"}


@dataclass(frozen=True)
class RenderedEmail:
    """An email ready to be put into a message: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class _PartnerView:
    """A partner as the templates show it: every string already on one line."""

    profile_id: str
    name: str
    kind: str
    percent: int
    reasons: tuple[str, ...]
    contact_name: str
    contact_email: str
    contact_href: str
    useful_url: str
    not_useful_url: str
    website_url: str  # a council that has not joined: its website, or GOV.UK's finder
    website_is_own: bool


def render_confirmation(confirm_url: str, council_name: str | None) -> RenderedEmail:
    """Render the email asking someone to confirm the address a profile was submitted with.

    The address is not confirmed yet, so anyone may have typed it: the email holds nothing the
    submitter wrote (no contact name, no supplier name, no free text), only the council's name
    from the public register, if the profile is a council's.
    """
    context = {
        "council_name": one_line(council_name) if council_name else None,
        "confirm_url": _web_url(confirm_url),
    }
    return _render("confirmation", CONFIRMATION_SUBJECT, context)


def render_recommendations(
    recipient_name: str,
    subject_name: str,
    needs: Sequence[NeedMatches],
    matches_url: str,
    contacts: Mapping[str, tuple[str, str]],
    unsubscribe_url: str | None = None,
    *,
    feedback_urls: Mapping[str, tuple[str, str]] | None = None,
    introducible: Collection[str] = (),
    new_partner: str | None = None,
    new_partner_areas: Sequence[str] = (),
    websites: Mapping[str, Website] | None = None,
) -> RenderedEmail:
    """Render the partners recommended for each need, with contacts only where they are shared.

    `feedback_urls` maps a partner's profile id to its "useful" and "not useful" links;
    `introducible` names the partners an introduction can be asked for on the profile page;
    `new_partner` names a strong partner that has just joined (the areas where it is now among
    the recommended), for the email sent when recommendations change; `websites` maps councils
    recommended from public data, which have not joined, to where they can be reached.
    """
    links = {key: (_web_url(yes), _web_url(no)) for key, (yes, no) in (feedback_urls or {}).items()}
    sites = websites or {}
    context = {
        "recipient_name": one_line(recipient_name),
        "subject_name": one_line(subject_name),
        "needs": [_need_view(need, contacts, links, sites) for need in needs],
        "introducible": set(introducible),
        "matches_url": _web_url(matches_url),
        "unsubscribe_url": _web_url(unsubscribe_url) if unsubscribe_url else None,
        "new_partner": one_line(new_partner) if new_partner else None,
        "new_partner_areas": [SERVICE_AREAS.get(a, one_line(a)) for a in new_partner_areas],
    }
    subject = f"Partner recommendations for {context['subject_name']}"
    if new_partner:
        subject = f"New partner recommendations for {context['subject_name']}"
    return _render("recommendations", subject, context)


def render_profile_links(recipient_name: str, profiles: Sequence[tuple[str, str]]) -> RenderedEmail:
    """Render the email with a private link to each profile an address has (name, url)."""
    context = {
        "recipient_name": one_line(recipient_name),
        "profiles": [(one_line(name), _web_url(url)) for name, url in profiles],
    }
    return _render("profile_links", LINK_SUBJECT, context)


def render_introduction_request(
    recipient_name: str, requester_name: str, areas: Sequence[str], needs_text: str,
    decision_url: str,
) -> RenderedEmail:
    """Render the email asking a partner whether it will be introduced to a requester."""
    text = needs_text.strip()
    if len(text) > INTRODUCTION_TEXT_LIMIT:
        text = text[:INTRODUCTION_TEXT_LIMIT].rstrip() + "…"
    context = {
        "recipient_name": one_line(recipient_name),
        "requester_name": one_line(requester_name),
        "areas": [SERVICE_AREAS.get(area, one_line(area)) for area in areas],
        "needs_lines": [line for line in (one_line(x) for x in text.splitlines()) if line],
        "decision_url": _web_url(decision_url),
    }
    subject = f"{context['requester_name']} would like an introduction"
    return _render("introduction", subject, context)


def render_introduction_accepted(
    recipient_name: str, partner_name: str, contact_name: str, contact_email: str,
    profile_url: str,
) -> RenderedEmail:
    """Render the email giving a requester the contact details of a partner that accepted."""
    email = one_line(contact_email)
    context = {
        "recipient_name": one_line(recipient_name),
        "partner_name": one_line(partner_name),
        "contact_name": one_line(contact_name),
        "contact_email": email,
        "contact_href": f"mailto:{quote(email, safe='@+')}",
        "profile_url": _web_url(profile_url),
    }
    subject = f"{context['partner_name']} accepted your introduction request"
    return _render("introduction_accepted", subject, context)


def _render(name: str, subject: str, context: dict[str, Any]) -> RenderedEmail:
    """Render the text and HTML templates of one email with the same context."""
    context = {**context, "subject": subject}
    text = _TEXT.get_template(f"{name}.txt").render(context)
    html = _HTML.get_template(f"{name}.html").render(context)
    return RenderedEmail(subject=subject, text=text, html=html)


def _need_view(need: NeedMatches, contacts: Mapping[str, tuple[str, str]],
               feedback: Mapping[str, tuple[str, str]],
               websites: Mapping[str, Website]) -> dict[str, Any]:
    """Describe one need for the templates."""
    area = SERVICE_AREAS.get(need.service_area, one_line(need.service_area))
    partners = [_partner_view(partner, contacts, feedback, websites.get(partner.profile_id))
                for partner in need.partners]
    return {"area": area, "rating": need.rating, "partners": partners}


def _partner_view(partner: Partner, contacts: Mapping[str, tuple[str, str]],
                  feedback: Mapping[str, tuple[str, str]], website: Website | None) -> _PartnerView:
    """Describe one partner for the templates, with contact details only if they were shared."""
    shared = contacts.get(partner.profile_id, ("", ""))
    useful_url, not_useful_url = feedback.get(partner.profile_id, ("", ""))
    contact_name, contact_email = one_line(shared[0]), one_line(shared[1])
    return _PartnerView(
        profile_id=partner.profile_id,
        name=one_line(partner.name),
        kind=_KINDS.get(partner.kind, one_line(partner.kind).capitalize()),
        percent=max(0, min(100, round(partner.score * 100))),
        reasons=tuple(r for r in (one_line(reason) for reason in partner.reasons) if r),
        contact_name=contact_name if contact_email else "",
        contact_email=contact_email,
        contact_href=f"mailto:{quote(contact_email, safe='@+')}" if contact_email else "",
        useful_url=useful_url,
        not_useful_url=not_useful_url,
        website_url=_web_url(website.url) if website else "",
        website_is_own=bool(website and website.own),
    )


def _web_url(url: str) -> str:
    """Return an http(s) URL unchanged, refusing any other scheme (javascript:, data:, ...)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or url != one_line(url):
        raise ValueError(f"not a web URL: {url!r}")
    return url

"""Signed links: one purpose each, expiring, and the sign-in ones usable once."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer

from partnermatch.shared.db.engine import make_engine, make_sessionmaker, transaction
from partnermatch.shared.notifications import links

SECRET = "test-secret"


def test_a_link_is_refused_for_any_other_purpose():
    token = links.sign(SECRET, links.UNSUBSCRIBE, {"e": "a@b.gov.uk"})
    assert links.verify(SECRET, links.UNSUBSCRIBE, token) == {"e": "a@b.gov.uk"}
    for purpose in (links.MANAGE, links.CONFIRM, links.FEEDBACK, links.INTRODUCTION, "other"):
        with pytest.raises(links.LinkError):
            links.verify(SECRET, purpose, token)


@pytest.mark.parametrize("token", ["", "x" * 3000, "abc.def.ghi",
                                   URLSafeTimedSerializer("other", salt=links.MANAGE).dumps({})])
def test_tampered_foreign_or_absurd_tokens_are_refused(token):
    with pytest.raises(links.LinkError):
        links.verify(SECRET, links.MANAGE, token)


def test_a_payload_that_is_not_an_object_is_refused():
    token = URLSafeTimedSerializer(SECRET, salt=links.FEEDBACK).dumps(["p"])
    with pytest.raises(links.LinkError):
        links.verify(SECRET, links.FEEDBACK, token)


def test_sign_in_links_carry_a_nonce_and_work_once(database_url):
    first = links.verify(SECRET, links.MANAGE, links.sign(SECRET, links.MANAGE, {"p": "1"}))
    second = links.verify(SECRET, links.MANAGE, links.sign(SECRET, links.MANAGE, {"p": "1"}))
    assert first["n"] != second["n"]
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        assert links.use_once(session, links.MANAGE, first)
        assert not links.use_once(session, links.MANAGE, first)
        assert links.use_once(session, links.MANAGE, second)
        assert not links.use_once(session, links.MANAGE, {"p": "1"})  # no nonce, no sign-in
    engine.dispose()

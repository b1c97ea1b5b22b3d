"""What ``decide()`` reads of a batch's history (``core.history_needs``): everything
recent only for the profiles whose caps it counts, an account audience's every
profile included."""

from __future__ import annotations

from clarion.core.history_needs import HistoryNeeds, history_needs
from tests.unit.core_fixtures import Audience, catalog, event, message, profile


def test_transactional_messages_need_no_caps_history() -> None:
    spec = catalog(message("bill", "bill.failed", category="account"))
    needs = history_needs([event("e1", "bill.failed", "p1")], {}, spec)
    assert needs == HistoryNeeds(frozenset(), False, frozenset({"bill.failed"}))


def test_an_account_audience_counts_caps_for_the_account_s_profiles() -> None:
    spec = catalog(message("promo", "thing.happened", audience=Audience.ACCOUNT))
    profiles = {
        pid: profile(pid, account_id=account)
        for pid, account in (("p1", "a1"), ("p2", "a1"), ("p3", "a2"))
    }
    needs = history_needs([event("e1", pid="p1", account_id="a1")], profiles, spec)
    assert needs.capped == {"p1", "p2"}

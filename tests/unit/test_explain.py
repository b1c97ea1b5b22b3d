"""Why a trigger condition is false: the failing test, the value the event had, and
whether the kinds differ; and which catalog messages an event type triggers."""

from __future__ import annotations

from clarion.core.explain import Miss, Trigger, explain, triggers
from clarion.core.predicate import Compiler
from tests.unit.core_fixtures import catalog, event, message

CONDITION = {"amount": {"gt": 0}, "currency": {"in": ["USD", "BRL"]}}


def test_a_condition_that_holds_has_no_miss() -> None:
    assert explain(CONDITION, {"amount": 1, "currency": "USD"}) is None


def test_text_against_a_number_is_a_type_mismatch() -> None:
    assert explain(CONDITION, {"amount": "9.99", "currency": "USD"}) == Miss(
        "amount", "gt", 0, "9.99", present=True, type_mismatch=True
    )


def test_a_value_out_of_range_is_not_a_type_mismatch() -> None:
    assert explain(CONDITION, {"amount": 0, "currency": "EUR"}) == Miss(
        "amount", "gt", 0, 0, present=True
    )
    assert explain(CONDITION, {"amount": 5, "currency": "EUR"}) == Miss(
        "currency", "in", ["USD", "BRL"], "EUR", present=True
    )


def test_an_absent_field_is_reported_absent() -> None:
    assert explain(CONDITION, {"currency": "USD"}) == Miss("amount", "gt", 0)


def test_nested_paths_and_combinators() -> None:
    nested = {"any": [{"plan.tier": "gold"}, {"plan.tier": "silver"}], "not": {"trial": True}}
    assert explain(nested, {"plan": {"tier": "gold"}, "trial": False}) is None
    miss = explain(nested, {"plan": {"tier": 3}})
    assert miss is not None and (miss.operator, len(miss.alternatives)) == ("any", 2)
    assert miss.alternatives[0] == Miss("plan.tier", "eq", "gold", 3, True, True)
    assert explain(nested, {"plan": {"tier": "gold"}, "trial": True}) == Miss(
        "not", "not", {"trial": True}
    )


def test_the_explainer_agrees_with_the_compiled_predicate() -> None:
    compiled = Compiler().compile(CONDITION)
    for payload in (
        {"amount": 1, "currency": "USD"},
        {"amount": "1", "currency": "USD"},
        {"amount": True, "currency": "USD"},
        {"amount": 1.5, "currency": "BRL"},
        {},
        {"amount": None},
    ):
        assert (explain(CONDITION, payload) is None) == compiled(payload), payload


def test_triggers_lists_every_message_of_the_type_with_its_miss() -> None:
    paid = message("paid", trigger="pay.failed")
    big = message(
        "big",
        trigger="pay.failed",
        id=2,
        condition=Compiler().compile({"amount": {"gt": 100}}),
        condition_data={"amount": {"gt": 100}},
    )
    spec = catalog(paid, big)
    found = triggers(event(etype="pay.failed", payload={"amount": 5}), spec)
    assert found == (
        Trigger("paid"),
        Trigger("big", Miss("amount", "gt", 100, 5, present=True)),
    )
    assert triggers(event(etype="pay.falied"), spec) == ()

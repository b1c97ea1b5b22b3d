"""Every message of the example catalog renders in every locale with its own example."""

from dataclasses import replace
from pathlib import Path

import pytest

from clarion.catalog import RenderError, check_catalog, load_catalog
from clarion.catalog.example import example_context
from clarion.core.model import Channel
from clarion.core.spec import Example
from tests.unit.inapp_fixtures import EXAMPLE

CATALOG = load_catalog(EXAMPLE)


@pytest.mark.parametrize("name", sorted(CATALOG.spec.messages))
def test_renders_everywhere(name: str) -> None:
    spec = CATALOG.message(name)
    assert spec.example is not None, f"{name} has no example"
    for locale in (*CATALOG.locales, "fr", "pt-PT"):
        for step in spec.channels:
            fields = CATALOG.render(name, step.index, locale, example_context(spec, locale)).fields
            assert all(text.strip() for text in fields.values()), (name, locale, step.index)


def test_a_brazilian_reader_gets_brazilian_email_copy() -> None:
    # pt.yaml is European Portuguese ("Tentámos", "a ver"); pt-BR must not fall back to it.
    emails = [
        (name, step.index)
        for name, spec in sorted(CATALOG.spec.messages.items())
        for step in spec.channels
        if step.channel is Channel.EMAIL
    ]
    assert emails
    for name, index in emails:
        context = example_context(CATALOG.message(name), "pt-BR")
        brazil = CATALOG.render(name, index, "pt-BR", context).fields
        portugal = CATALOG.render(name, index, "pt", context).fields
        assert brazil["body"] != portugal["body"], name
    context = example_context(CATALOG.message("payment_failed"), "pt-BR")
    [index] = [i for n, i in emails if n == "payment_failed"]
    body = CATALOG.render("payment_failed", index, "pt-BR", context).fields["body"]
    assert "Tentamos cobrar" in body and "continuar assistindo" in body


def test_example_context_shape() -> None:
    spec = CATALOG.message("payment_failed")
    context = example_context(spec, "pt-BR")
    assert context["event_type"] == "payment.failed"
    assert context["event"] == {"amount": 15.49, "currency": "USD", "show_title": "Stranger Things"}
    assert context["profile"] == {
        "id": "example",
        "locale": "pt-BR",
        "timezone": "UTC",
        "country": None,
        "account_id": None,
        "attributes": {"first_name": "Ana"},
    }
    assert spec.example == Example(
        {"amount": 15.49, "currency": "USD", "show_title": "Stranger Things"},
        {"attributes": {"first_name": "Ana"}},
    )


def write(root: Path, example: str) -> Path:
    (root / "messages").mkdir()
    (root / "strings").mkdir()
    (root / "strings" / "en.yaml").write_text("hi: {body: 'Hi {{ event.name }}'}\n")
    (root / "messages" / "hi.yaml").write_text(
        "name: hi\nid: 1\ncategory: x\ntrigger: {event: hi}\n"
        f"channels: [{{channel: push, content: {{body: hi.body}}}}]\nexample: {example}\n"
    )
    return root


@pytest.mark.parametrize(
    ("example", "key", "problem"),
    [
        ("{profile: {}}", "example.event", "missing required key"),
        ("{event: [1]}", "example.event", "expected a mapping"),
        ("{event: {}, profile: {plan: x}}", "example.profile.plan", "unknown key"),
        (
            "{event: {}, profile: {attributes: 3}}",
            "example.profile.attributes",
            "expected a mapping",
        ),
        ("{event: {}, extra: 1}", "example.extra", "unknown key"),
    ],
)
def test_bad_examples(tmp_path: Path, example: str, key: str, problem: str) -> None:
    (issue,) = check_catalog(write(tmp_path, example))
    assert (issue.file, issue.key) == ("messages/hi.yaml", key)
    assert problem in issue.problem


def test_without_an_example_the_event_is_empty(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, "{event: {name: Ana}}"))
    spec = catalog.message("hi")
    assert catalog.render("hi", 0, "en", example_context(spec, "en")).fields == {"body": "Hi Ana"}
    bare = replace(spec, example=None)
    with pytest.raises(RenderError):
        catalog.render("hi", 0, "en", example_context(bare, "en"))

"""An in-app step's ``fallback``: what the alert becomes when its federated call fails."""

from pathlib import Path

import pytest

from clarion.catalog import check_catalog, load_catalog
from clarion.core.inapp_spec import ActionType, Fallback, InAppSpec, Template
from clarion.inapp.coverage import inapp_coverage
from tests.unit.test_catalog_inapp import FILE, message, write

BACKEND = """\
      ctas:
        - {field: add, action_type: BACKEND, action: SEND_LINK, selected: true}
        - {field: later, action_type: DISMISS, action: DISMISS_ALERT, cta_type: LINK}
      fallback: {template: banner, fields: {body: alert.short, add: alert.yes}}
"""


def spec_of(tmp_path: Path, options: str = BACKEND) -> InAppSpec:
    catalog = load_catalog(write(tmp_path, message(options)))
    inapp = catalog.message("alert").channels[0].inapp
    assert inapp is not None
    return inapp


def test_a_fallback_turns_the_backend_cta_into_a_redirect_with_its_copy(tmp_path: Path) -> None:
    inapp = spec_of(tmp_path)
    assert inapp.fallback == Fallback(Template.BANNER, {"body": "alert.short", "add": "alert.yes"})
    shown = inapp.fallback_spec("ADD_PHONE")
    assert shown.template is Template.BANNER
    assert [(c.action_type, c.action) for c in shown.ctas] == [
        (ActionType.REDIRECT, "ADD_PHONE"),
        (ActionType.DISMISS, "DISMISS_ALERT"),
    ]
    # Without a configured fallback action the BACKEND CTA is left out.
    assert [c.action for c in inapp.fallback_spec(None).ctas] == ["DISMISS_ALERT"]
    content = {"title": "alert.title", "body": "alert.body", "add": "alert.yes"}
    assert inapp.fallback_content(content)["body"] == "alert.short"
    catalog = load_catalog(tmp_path)
    rendered = catalog.render_fallback("alert", 0, "en", {})
    assert rendered.fields["body"] == "Add a phone number."
    assert rendered.fields["title"] == "Add a phone number"


def test_without_a_template_the_fallback_keeps_the_alerts(tmp_path: Path) -> None:
    inapp = spec_of(tmp_path, BACKEND.replace("template: banner, ", ""))
    assert inapp.fallback_spec("ADD_PHONE").template is Template.STANDARD


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (("action_type: BACKEND", "action_type: REDIRECT"), "fallback", "needs a CTA with"),
        (("template: banner", "template: popup"), "fallback.template", "'popup'"),
        (("{body: alert.short", "{cta: alert.short"), "fallback.fields.cta", "unknown key"),
        (("fields: {", "colour: red, fields: {"), "fallback.colour", "unknown key"),
    ],
)
def test_fallback_mistakes_name_their_key(
    tmp_path: Path, change: tuple[str, str], key: str, problem: str
) -> None:
    text = message(BACKEND)
    assert change[0] in text, change
    found = check_catalog(write(tmp_path, text.replace(*change, 1)))
    assert [(i.file, i.key) for i in found] == [(FILE, f"channels[0].options.{key}")], found
    assert problem in found[0].problem


def test_fallback_copy_must_exist_in_the_default_locale(tmp_path: Path) -> None:
    text = message(BACKEND.replace("body: alert.short", "body: alert.gone"))
    [issue] = check_catalog(write(tmp_path, text))
    assert issue.key == "channels[0].options.fallback.fields.body"
    assert "'alert.gone' is missing from strings/en.yaml" in issue.problem


def test_localization_qc_covers_the_fallbacks_copy(tmp_path: Path) -> None:
    write(tmp_path, message(BACKEND))
    (tmp_path / "strings" / "es.yaml").write_text(
        "alert:\n  title: Agrega un teléfono\n  body: Protege tu cuenta.\n  yes: Agregar\n"
        "  no: Ahora no\n  footer: '[Por qué](https://help.example.com)'\n",
        encoding="utf-8",
    )
    found = [a for a in inapp_coverage(load_catalog(tmp_path)) if a.variant == "fallback"]
    [fallback] = found
    assert fallback.template is Template.BANNER
    assert fallback.content["body"] == "alert.short"
    # Spanish lacks the fallback's body: QC reports it rather than shoot English.
    assert {c.locale: c.missing for c in fallback.locales} == {"en": (), "es": ("body",)}

"""The catalog's ``holdout`` and ``experiment`` keys: what they build, and errors that
name their file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from clarion.catalog import check_catalog, load_catalog
from clarion.core.model import Channel

from .test_catalog_errors import write

MESSAGE = """\
name: promo
id: 7
category: {category}
trigger: {{event: thing.happened}}
channel_mode: first
channels:
  - channel: push
    content: {{title: greeting.title}}
  - channel: webhook
    content: {{title: greeting.title}}
timing: {{delay: 1h, expires_after: 2d}}
{extra}"""
GOAL = "goal: {event: thing.done, within: 2d}\n"
TEST = """\
experiment:
  id: 5
  salt: spring
  cells:
    - {name: control, weight: 2}
    - name: short
      weight: 1
      content: {webhook: {title: greeting.short}}
      timing: {delay: 3h}
      caps: [{limit: 1, window: 1d}]
    - name: sms_only
      weight: 1
      channels: [{channel: sms, content: {body: greeting.short}}]
"""
STRINGS = "greeting:\n  title: Hello\n  short: Hi\n"


def catalog_with(
    tmp_path: Path, extra: str, category: str = "engagement", policy: str = "default_locale: en\n"
) -> Path:
    text = MESSAGE.format(category=category, extra=extra)
    return write(
        tmp_path,
        {"messages/promo.yaml": text, "strings/en.yaml": STRINGS, "clarion.yaml": policy},
    )


def issues(root: Path) -> list[str]:
    return [str(i) for i in check_catalog(root)]


def test_an_experiment_builds_one_variant_per_cell(tmp_path: Path) -> None:
    spec = load_catalog(catalog_with(tmp_path, GOAL + TEST)).message("promo")
    test = spec.experiment
    assert test is not None and (test.id, test.salt) == (5, "spring")
    assert [c.name for c in test.cells] == ["control", "short", "sms_only"]
    assert test.shares == pytest.approx((0.5, 0.25, 0.25))
    control, short, sms = spec.variants
    assert control.channels == spec.channels
    assert short.channels[1].content == {"title": "greeting.short"}
    assert short.channels[0].content == {"title": "greeting.title"}
    assert short.timing.delay.total_seconds() == 3 * 3600
    assert short.timing.expires_after == spec.timing.expires_after  # merged, not replaced
    assert [c.limit for c in short.caps] == [1]
    assert [s.channel for s in sms.channels] == [Channel.SMS]


def test_holdout_as_percent_or_fraction(tmp_path: Path) -> None:
    spec = load_catalog(catalog_with(tmp_path, GOAL + "holdout: 2.5%\n")).message("promo")
    assert spec.holdout == pytest.approx(0.025)
    spec = load_catalog(catalog_with(tmp_path, GOAL + "holdout: 0.1\n")).message("promo")
    assert spec.holdout == pytest.approx(0.1)


def test_the_default_holdout_applies_to_measured_non_account_messages(tmp_path: Path) -> None:
    policy = "default_locale: en\nholdout: 2%\n"
    spec = load_catalog(catalog_with(tmp_path, GOAL + TEST, policy=policy)).message("promo")
    assert spec.holdout == pytest.approx(0.02)
    assert all(v.holdout == pytest.approx(0.02) for v in spec.variants)
    spec = load_catalog(catalog_with(tmp_path, GOAL + "holdout: 0\n", policy=policy)).message(
        "promo"
    )
    assert spec.holdout == 0
    account = catalog_with(tmp_path, GOAL, category="account", policy=policy)
    assert load_catalog(account).message("promo").holdout == 0
    no_goal = catalog_with(tmp_path, "", policy=policy)
    assert load_catalog(no_goal).message("promo").holdout == 0


def test_account_messages_are_never_held_out_but_may_opt_out(tmp_path: Path) -> None:
    root = catalog_with(tmp_path, GOAL + "holdout: 5%\n", category="account")
    assert issues(root) == [
        "messages/promo.yaml: holdout: category 'account' is transactional: never held out "
        "(only 'holdout: 0')"
    ]
    assert issues(catalog_with(tmp_path, GOAL + "holdout: 0\n", category="account")) == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "holdout: 2%\n",
            "messages/promo.yaml: goal: missing: a held-out or tested message needs a goal to "
            "measure",
        ),
        (
            GOAL + "holdout: 60%\n",
            "messages/promo.yaml: holdout: invalid holdout '60%' (use a share up to 50%, "
            'e.g. "2%", or 0)',
        ),
        (
            GOAL + TEST.replace("weight: 1\n      content", "weight: -1\n      content"),
            "messages/promo.yaml: experiment.cells[1].weight: expected a positive number, got -1",
        ),
        (
            GOAL + TEST.replace("{webhook: {title", "{sms: {title"),
            "messages/promo.yaml: experiment.cells[1].content.sms: the message has no sms "
            "channel to override",
        ),
        (
            GOAL + TEST.replace("{webhook: {title", "{webhook: {subject"),
            "messages/promo.yaml: experiment.cells[1].content.webhook: fields ['subject'] are not "
            "among the channel's ['title']",
        ),
        (
            GOAL + TEST.replace("title: greeting.short", "title: greeting.nope"),
            "messages/promo.yaml: experiment.cells[1].content.webhook.title: string key "
            "'greeting.nope' is missing from strings/en.yaml",
        ),
        (
            GOAL + TEST.replace("name: sms_only", "name: short"),
            "messages/promo.yaml: experiment.cells[2].name: cell name 'short' is used twice",
        ),
        (
            GOAL
            + TEST.replace("{name: control, weight: 2}", "{name: control, weight: 2, caps: []}"),
            "messages/promo.yaml: experiment.cells[0]: the first cell is the control: it "
            "overrides nothing (found ('caps',))",
        ),
        (
            GOAL + "experiment: {id: 5, cells: [{name: a, weight: 1}]}\n",
            "messages/promo.yaml: experiment.cells: expected a list of at least two cells "
            "(the first is the control)",
        ),
        (
            GOAL + TEST.replace("timing: {delay: 3h}", "timing: {delay: soon}"),
            "messages/promo.yaml: experiment.cells[1].timing.delay: invalid duration 'soon' "
            "(use e.g. 90s, 15m, 24h, 7d)",
        ),
    ],
)
def test_measurement_errors_name_file_and_key(tmp_path: Path, extra: str, expected: str) -> None:
    assert issues(catalog_with(tmp_path, extra)) == [expected]


def test_a_ladders_cells_keep_its_channels(tmp_path: Path) -> None:
    ladder = MESSAGE.format(category="engagement", extra=GOAL + TEST).replace(
        "channel_mode: first\n", ""
    )
    ladder = ladder.replace(
        "experiment:", "escalation: [{channel: push, timeout: 1h}, {channel: webhook}]\nexperiment:"
    )
    root = write(tmp_path, {"messages/promo.yaml": ladder, "strings/en.yaml": STRINGS})
    assert issues(root) == [
        "messages/promo.yaml: experiment.cells[2].channels: a message with an escalation "
        "ladder has the same channels in every cell (override their content instead)"
    ]


def test_two_messages_cannot_share_an_experiment_id(tmp_path: Path) -> None:
    root = catalog_with(tmp_path, GOAL + TEST)
    other = (root / "messages/promo.yaml").read_text().replace("name: promo", "name: promo2")
    (root / "messages/promo2.yaml").write_text(other.replace("id: 7", "id: 8"))
    assert issues(root) == [
        "messages/promo2.yaml: experiment.id: experiment id 5 is already used by "
        "messages/promo.yaml"
    ]


def test_the_example_catalog_measures_two_messages() -> None:
    catalog = load_catalog(Path(__file__).parents[2] / "catalog")
    watching = catalog.message("continue_watching")
    assert watching.holdout == pytest.approx(0.05) and watching.experiment is None
    dropoff = catalog.message("signup_dropoff")
    assert dropoff.experiment is not None and dropoff.experiment.id == 31
    assert dropoff.holdout == 0
    assert catalog.message("payment_failed").holdout == 0

"""Typed channel contracts: each channel declares its content fields and options, and a
catalog step that misspells one, or gives an option a value of the wrong type, is
refused when the catalog loads, at its file and key (not when a provider first sees it)."""

import subprocess
import sys
from pathlib import Path

import pytest

from clarion.catalog import CatalogError, check_catalog, load_catalog
from clarion.core.contracts import CONTRACTS, PushOptions
from clarion.core.model import Channel
from tests.unit.test_catalog_errors import MESSAGE, STRINGS, only_issue, write

HEAD = MESSAGE.format(name="ok", id=1).split("channels:")[0] + "channels:\n"
STRINGS_2 = STRINGS + "  body: Hi\n"


def _step(root: Path, step: str) -> Path:
    return write(root, {"messages/ok.yaml": HEAD + step, "strings/en.yaml": STRINGS_2})


def _found(root: Path) -> set[tuple[str, str, str]]:
    return {(i.file, i.key, i.problem) for i in check_catalog(root)}


def test_every_channel_has_a_contract() -> None:
    assert set(CONTRACTS) == set(Channel)
    assert all(contract.channel is channel for channel, contract in CONTRACTS.items())


def test_a_misspelled_email_field_names_file_and_key(tmp_path: Path) -> None:
    root = _step(
        tmp_path,
        "  - channel: email\n    content: {subjct: greeting.title, body: greeting.body}\n",
    )
    assert _found(root) == {
        (
            "messages/ok.yaml",
            "channels[0].content.subjct",
            "unknown email content field (allowed: subject, body)",
        ),
        ("messages/ok.yaml", "channels[0].content.subject", "missing required email field"),
    }
    with pytest.raises(CatalogError, match=r"messages/ok.yaml: channels\[0\].content.subjct"):
        load_catalog(root)


def test_a_misspelled_push_option_names_file_and_key(tmp_path: Path) -> None:
    root = _step(
        tmp_path,
        "  - channel: push\n    content: {title: greeting.title}\n"
        "    options: {deep_lnk: /account}\n",
    )
    issue = only_issue(root)
    assert (issue.file, issue.key) == ("messages/ok.yaml", "channels[0].options.deep_lnk")
    assert issue.problem.startswith("unknown push option (allowed: deep_link, ")


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        ("badge: lots", "expected a whole number of at least 0, got 'lots'"),
        ("badge: -1", "expected a whole number of at least 0, got -1"),
        ("badge: true", "expected a whole number of at least 0, got True"),
        ("ttl: 1h", "expected a whole number of at least 0, got '1h'"),
        ("priority: urgent", "expected one of high, normal, got 'urgent'"),
        ("deep_link: 5", "expected a non-empty string, got 5"),
        ("sound: ''", "expected a non-empty string, got ''"),
    ],
)
def test_a_push_option_of_the_wrong_type_names_file_and_key(
    tmp_path: Path, option: str, problem: str
) -> None:
    name = option.split(":", maxsplit=1)[0]
    root = _step(
        tmp_path,
        f"  - channel: push\n    content: {{title: greeting.title}}\n    options: {{{option}}}\n",
    )
    assert str(only_issue(root)) == f"messages/ok.yaml: channels[0].options.{name}: {problem}"


def test_valid_push_options_are_typed_on_the_step(tmp_path: Path) -> None:
    root = _step(
        tmp_path,
        "  - channel: push\n    content: {title: greeting.title, body: greeting.body}\n"
        "    options: {deep_link: /account, badge: 2, priority: normal, ttl: 60}\n",
    )
    step = load_catalog(root).spec.messages["ok"].channels[0]
    assert step.options == PushOptions(deep_link="/account", badge=2, priority="normal", ttl=60)


@pytest.mark.parametrize(
    ("step", "key", "problem"),
    [
        (
            "  - channel: push\n    content: {titel: greeting.title}\n",
            "channels[0].content.titel",
            "unknown push content field (allowed: title, body)",
        ),
        (
            "  - channel: sms\n    content: {bdy: greeting.title}\n",
            "channels[0].content.bdy",
            "unknown sms content field (allowed: body)",
        ),
        (
            "  - channel: voice\n    content: {body: greeting.title}\n    options: {voice: x}\n",
            "channels[0].options.voice",
            "unknown voice option (the channel takes none)",
        ),
        (
            "  - channel: email\n    content: {subject: greeting.title, body: greeting.body}\n"
            "    options: {from: a@example.com}\n",
            "channels[0].options.from",
            "unknown email option (the channel takes none)",
        ),
        (
            "  - channel: webhook\n    options: {url: ftp://example.com/in}\n",
            "channels[0].options.url",
            "expected an http(s) URL, got 'ftp://example.com/in'",
        ),
        (
            "  - channel: webhook\n    options: {uri: https://example.com/in}\n",
            "channels[0].options.uri",
            "unknown webhook option (allowed: url)",
        ),
    ],
)
def test_each_channel_checks_its_fields_and_options(
    tmp_path: Path, step: str, key: str, problem: str
) -> None:
    assert _found(_step(tmp_path, step)) >= {("messages/ok.yaml", key, problem)}


def test_a_push_step_needs_a_title_or_a_body(tmp_path: Path) -> None:
    root = _step(tmp_path, "  - channel: push\n    content: {}\n")
    issue = only_issue(root)
    assert (issue.key, issue.problem) == ("channels[0].content", "a push step needs title or body")


def test_webhook_content_stays_free(tmp_path: Path) -> None:
    root = _step(
        tmp_path,
        "  - channel: webhook\n    content: {anything: greeting.title}\n"
        "    options: {url: https://hooks.example.com/in}\n",
    )
    assert check_catalog(root) == []


def test_an_experiment_cell_is_checked_too(tmp_path: Path) -> None:
    text = (
        HEAD
        + "  - channel: push\n    content: {title: greeting.title}\n"
        + "goal: {event: payment.updated, within: 7d}\n"
        + "experiment:\n  id: t\n  cells:\n    - {name: control, weight: 1}\n"
        + "    - name: sms\n      weight: 1\n"
        + "      channels: [{channel: sms, content: {bdy: greeting.title}}]\n"
    )
    root = write(tmp_path, {"messages/ok.yaml": text.replace("account", "engagement")})
    keys = {i.key for i in check_catalog(root)}
    assert "experiment.cells[1].channels[0].content.bdy" in keys


def test_catalog_check_refuses_misspelled_channel_content(tmp_path: Path) -> None:
    root = _step(
        tmp_path,
        "  - channel: push\n    content: {title: greeting.title}\n    options: {badge: lots}\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "clarion.cli", "catalog", "check", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "messages/ok.yaml: channels[0].options.badge: expected a whole number" in result.stdout

"""Email through the whole pipeline, on SQLite and PostgreSQL: an event becomes an
email that a real SMTP server receives, localized, with signed tracking links;
opens and clicks land in the message's timeline; refusals are recorded."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from clarion.channels.email_tracking import EmailTracking
from clarion.channels.provider_config import EmailConfig, SinkConfig
from clarion.observability import EMAIL_TRACKING
from clarion.runtime.clock import system_clock
from clarion.service import Service
from clarion.signing import KeyRing
from tests.integration.pipeline_support import (
    FakeClock,
    running,
    settings_for,
    wait_for,
    when_idle,
)
from tests.integration.smtp_support import Mailbox, SmtpServer, smtp_server

PAYMENT = {"amount": 15.49, "currency": "BRL", "show_title": "Stranger Things"}
PUBLIC = "https://clarion.test"
TRACKING_KEY = "t" * 32


def _settings(db_url: str, tmp_path: Path, peer: SmtpServer, **kw: Any) -> Any:
    email = EmailConfig(
        host=peer.host,
        port=peer.port,
        tls="none",
        from_address="alerts@clarion.test",
        from_name="Clarion",
        unsubscribe_url="https://clarion.test/unsubscribe/{profile_id}",
        local_hostname="clarion.test",
        timeout=5,
    )
    return settings_for(
        db_url,
        tmp_path,
        providers={"sink": SinkConfig(path=tmp_path / "sink.jsonl"), "email": email},
        routes={"email": "email"},
        public_url=PUBLIC,
        tracking_keys={"k1": TRACKING_KEY},
        **kw,
    )


def _profile(client: TestClient, pid: str, email: str) -> None:
    body = {"locale": "pt-BR", "timezone": "America/Sao_Paulo", "country": "BR", "email": email}
    body["attributes"] = {"first_name": "Ana"}  # type: ignore[assignment]
    assert client.put(f"/v1/profiles/{pid}", json=body).status_code == 200


def _pay_failed(client: TestClient, pid: str) -> None:
    event = {"id": f"evt-{pid}", "type": "payment.failed", "profile_id": pid, "payload": PAYMENT}
    assert client.post("/v1/events", json=event).status_code == 202


def _settled_email(client: TestClient, pid: str) -> dict[str, Any] | None:
    """The profile's email message once past scheduled and sending, else None."""
    found = client.get(f"/v1/profiles/{pid}/messages", params={"channel": "email"}).json()
    done = [m for m in found["messages"] if m["status"] not in ("scheduled", "sending")]
    return done[0] if done else None


def _email_message(client: TestClient, service: Service, pid: str) -> dict[str, Any]:
    """The profile's settled email message, once the workers are idle."""
    return when_idle(service, lambda: _settled_email(client, pid))


def _timeline(client: TestClient, guid: str) -> list[dict[str, Any]]:
    timeline: list[dict[str, Any]] = client.get(f"/v1/messages/{guid}").json()["timeline"]
    return timeline


def _html(mail: EmailMessage) -> str:
    part = mail.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _tracking_path(url: str) -> str:
    assert url.startswith(PUBLIC + "/v1/t/")
    return urlsplit(url).path


def test_an_event_becomes_a_localized_tracked_email(db_url: str, tmp_path: Path) -> None:
    with (
        smtp_server() as peer,
        running(_settings(db_url, tmp_path, peer, run_workers=False)) as (client, service),
    ):
        _profile(client, "ana", "ana@example.com")
        _pay_failed(client, "ana")
        message = _email_message(client, service, "ana")
        assert message["status"] == "sent" and message["provider"] == "email"
        [arrived] = peer.mailbox.arrived
        mail = arrived.message
        assert mail["To"] == "ana@example.com"
        assert mail["Content-Language"] in ("pt-BR", "pt")  # pt-BR falls back to pt copy
        assert mail["Subject"].startswith("Ação necessária"), mail["Subject"]
        assert "R$" in mail["Subject"]  # money for a Brazilian reader
        assert mail["Message-ID"] == f"<{message['guid']}@clarion.test>"
        assert mail["List-Unsubscribe"] == "<https://clarion.test/unsubscribe/ana>"
        text = mail.get_body(("plain",))
        assert text is not None and "Ana" in text.get_content()
        html = _html(mail)
        links = re.findall(r'href="([^"]+)"', html)
        pixels = re.findall(r'<img src="([^"]+)"', html)
        assert links and all(link.startswith(PUBLIC + "/v1/t/c/k1.") for link in links)
        assert len(pixels) == 1 and pixels[0].endswith(".gif")

        # The member opens the email, then clicks its link.
        opened = client.get(_tracking_path(pixels[0]), headers={"User-Agent": "Mail/1.0"})
        assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
        assert "no-store" in opened.headers["cache-control"]
        clicked = client.get(_tracking_path(links[0]), follow_redirects=False)
        assert clicked.status_code == 302
        target = clicked.headers["location"]
        assert target.startswith("https://") and "clarion.test" not in target
        assert target in text.get_content()  # the plain part shows the same link

        timeline = _timeline(client, message["guid"])
        engagement = [e for e in timeline if e["reason"] in ("open", "click")]
        assert [(e["status"], e["reason"]) for e in engagement] == [
            ("sent", "open"),
            ("sent", "click"),
        ]
        assert engagement[0]["detail"] == {"user_agent": "Mail/1.0"}
        assert engagement[1]["detail"]["url"] == target
        # The message's own status is unchanged by engagement.
        assert client.get(f"/v1/messages/{message['guid']}").json()["status"] == "sent"


def _forged(guid: str, url: str) -> str:
    # The same key id, another secret: what an attacker who guessed the format would make.
    forger = EmailTracking(PUBLIC, KeyRing({"k1": b"x" * 32}, "k1"), lambda: datetime.now(UTC))
    return forger.token("click", guid, url)


def test_forged_altered_and_expired_tokens_record_nothing(db_url: str, tmp_path: Path) -> None:
    with (
        smtp_server() as peer,
        running(_settings(db_url, tmp_path, peer, run_workers=False)) as (client, service),
    ):
        _profile(client, "bo", "bo@example.com")
        _pay_failed(client, "bo")
        guid = _email_message(client, service, "bo")["guid"]
        links = service.email_tracking
        assert links is not None
        kid, payload, signature = links.token("click", guid, "https://www.example.com/").split(".")
        evil = "https://evil.example/phish"
        expired_links = service.settings.email_tracking(
            lambda: service.clock() - timedelta(days=181)
        )
        assert expired_links is not None
        rejected_before = EMAIL_TRACKING.labels("click", "bad_signature")._value.get()
        cases = {
            "forged": (_forged(guid, evil), 403, "bad_signature"),
            "altered": (f"{kid}.{payload[:-2]}AA.{signature}", 403, "bad_signature"),
            "unknown key": (f"k9.{payload}.{signature}", 403, "unknown_key"),
            "malformed": ("garbage", 400, "malformed"),
            "open as click": (links.token("open", guid), 400, "malformed"),
            "expired": (expired_links.token("click", guid, evil), 410, "expired"),
        }
        for name, (token, status, problem) in cases.items():
            answer = client.get(f"/v1/t/c/{token}", follow_redirects=False)
            assert answer.status_code == status, name
            assert "location" not in answer.headers, name
            assert answer.json()["fields"] == [{"field": "token", "problem": problem}], name
        assert client.get(f"/v1/t/o/{_forged(guid, evil)}.gif").status_code == 403
        assert client.get(f"/v1/t/o/{expired_links.token('open', guid)}.gif").status_code == 410

        reasons = {e["reason"] for e in _timeline(client, guid)}
        assert not reasons & {"open", "click"}
        assert EMAIL_TRACKING.labels("click", "bad_signature")._value.get() == rejected_before + 2


def test_without_a_public_url_emails_are_untracked_and_routes_answer_404(
    db_url: str, tmp_path: Path
) -> None:
    with smtp_server() as peer:
        settings = _settings(db_url, tmp_path, peer, run_workers=False).model_copy(
            update={"public_url": None}
        )
        with running(settings) as (client, service):
            _profile(client, "cy", "cy@example.com")
            _pay_failed(client, "cy")
            _email_message(client, service, "cy")
            html = _html(peer.mailbox.arrived[0].message)
            assert "/v1/t/" not in html and 'href="https://www.example.com/' in html
            assert client.get("/v1/t/c/k1.a.b", follow_redirects=False).status_code == 404


def test_550_fails_with_its_code_and_451_is_retried(db_url: str, tmp_path: Path) -> None:
    deferred: dict[str, int] = {}

    def rcpt(address: str) -> str | None:
        if address.startswith("gone@"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("busy@"):
            deferred[address] = deferred.get(address, 0) + 1
            if deferred[address] <= 2:
                return "451 4.3.0 try again later"
        return None

    clock = FakeClock()
    with (
        smtp_server(Mailbox(rcpt_reply=rcpt)) as peer,
        running(_settings(db_url, tmp_path, peer, run_workers=False), clock) as (client, service),
    ):
        _profile(client, "gone", "gone@example.com")
        _profile(client, "busy", "busy@example.com")
        _pay_failed(client, "gone")
        _pay_failed(client, "busy")
        # Busy's email is decided a tick past the clock (second event of the batch),
        # then deferred twice: each time the clock moves past the 0.05 s retry cap.
        for _ in range(3):
            service.run_until_idle()
            clock.advance(timedelta(seconds=1))
        gone, busy = (
            _email_message(client, service, "gone"),
            _email_message(client, service, "busy"),
        )
        assert (gone["status"], gone["reason"]) == ("failed", "provider_rejected:smtp_550")
        failure = _timeline(client, gone["guid"])[-1]
        assert "mailbox unavailable" in failure["detail"]["error"]
        assert (busy["status"], busy["attempts"]) == ("sent", 3)
        retries = [
            e["reason"] for e in _timeline(client, busy["guid"]) if e["status"] == "scheduled"
        ]
        assert retries[1:] == ["retrying:smtp_451", "retrying:smtp_451"]
        assert [a.rcpt_tos for a in peer.mailbox.arrived] == [["busy@example.com"]]


def test_links_signed_in_a_worker_process_verify_in_the_api(db_url: str, tmp_path: Path) -> None:
    with (
        smtp_server() as peer,
        running(_settings(db_url, tmp_path, peer, worker_processes=1), clock=system_clock) as (
            client,
            _,
        ),
    ):
        _profile(client, "di", "di@example.com")
        _pay_failed(client, "di")
        guid = wait_for(lambda: _settled_email(client, "di"))["guid"]
        links = re.findall(r'href="([^"]+)"', _html(peer.mailbox.arrived[0].message))
        clicked = client.get(_tracking_path(links[0]), follow_redirects=False)
        assert clicked.status_code == 302
        assert [e["reason"] for e in _timeline(client, guid)][-1] == "click"

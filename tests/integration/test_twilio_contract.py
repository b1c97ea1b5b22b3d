"""Contract tests: the requests Clarion makes, checked against Twilio's own OpenAPI
description of the Messages and Calls resources, served by Prism (validating mock).

Prism answers 422 to a request that breaks the contract and 401 to one without
basic auth, so a 201 here means Twilio's published contract accepts the request.
Prism starts once per module (it takes a few seconds).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from clarion.channels.base import Outgoing, PermanentError, Provider, Receipt
from clarion.channels.provider_config import TwilioSmsConfig, TwilioVoiceConfig
from clarion.channels.registry import build_provider
from clarion.channels.twilio_client import TwilioClient
from clarion.core.model import Channel

ROOT = Path(__file__).parents[2]
PRISM = ROOT / "node_modules" / ".bin" / "prism"
#: Twilio's published contract lives beside the checkout (``../shared``), not in the
#: project; ``CLARION_TWILIO_CONTRACT`` names it elsewhere (a git worktree, CI).
CONTRACT_NAME = Path("shared", "peers", "twilio", "twilio_api_v2010.messages_calls.json")
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(what)
    pytest.skip(what)


def contract() -> Path:
    """The contract file: ``CLARION_TWILIO_CONTRACT``, else ``shared/`` beside the checkout
    or beside a folder holding it; a skip when missing, a failure under ``CI``."""
    named = os.environ.get("CLARION_TWILIO_CONTRACT")
    candidates = [Path(named)] if named else [p / CONTRACT_NAME for p in ROOT.parents[:2]]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        where = " or ".join(str(c) for c in candidates)
        _missing(f"Twilio's contract is missing at {where} (set CLARION_TWILIO_CONTRACT)")
    assert found is not None
    return found


def _free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prism exited with {proc.returncode}")
        with closing(socket.socket()) as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("prism did not start listening")


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prism serving Twilio's contract on a free port; its base URL."""
    if not PRISM.exists():
        _missing(f"{PRISM} is missing: run `make peers` to install Prism from npm")
    spec = contract()
    port = _free_port()
    log = (tmp_path_factory.mktemp("prism") / "prism.log").open("wb")
    args = [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)]
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def account(base_url: str) -> dict[str, object]:
    return {
        "account_sid": ACCOUNT_SID,
        "auth_token": "contract-test-token",
        "default_sender": "+15005550006",
        "senders": {"BR": "+5511400000000", "GB": "Clarion"},  # GB: an alphanumeric id
        "base_url": base_url,
        "public_url": "https://clarion.example.com",
    }


def outgoing(channel: Channel, phone: str = "+5511912345678") -> Outgoing:
    return Outgoing(
        guid="G1",
        channel=channel,
        message="payment_failed",
        message_id=1001,
        category="account",
        profile_id="ana",
        locale="pt-BR",
        fields={"body": 'Pague **já** <"&">: [example.com/pay](https://www.example.com/pay)'},
        phone=phone,
        country="BR",
    )


def send(provider: Provider, message: Outgoing) -> Receipt:
    async def go() -> Receipt:
        try:
            return await provider.send(message)
        finally:
            await provider.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("phone", ["+5511912345678", "+447700900123"])
def test_sms_requests_meet_the_contract(prism: str, phone: str) -> None:
    provider = build_provider("sms", TwilioSmsConfig.model_validate(account(prism)))

    receipt = send(provider, outgoing(Channel.SMS, phone))

    assert receipt.ref is not None and receipt.ref.startswith("SM")
    assert receipt.detail["twilio_status"] == "queued"


def test_call_requests_meet_the_contract(prism: str) -> None:
    config = TwilioVoiceConfig.model_validate(
        {**account(prism), "voices": {"pt-BR": "Polly.Camila"}}
    )

    receipt = send(build_provider("voice", config), outgoing(Channel.VOICE))

    assert receipt.ref is not None and receipt.ref.startswith("CA")


def test_a_request_that_breaks_the_contract_is_caught(prism: str) -> None:
    # No "To", and an account SID that is not one: Prism answers 422.
    client = TwilioClient("AC123", "token", base_url=prism)

    async def go() -> None:
        try:
            await client.create("Messages", [("Body", "hello")], "")
        finally:
            await client.aclose()

    with pytest.raises(PermanentError) as caught:
        asyncio.run(go())
    assert caught.value.code == "http_422"


def test_the_contract_requires_basic_auth(prism: str) -> None:
    form = {"To": "+5511912345678", "From": "+15005550006", "Body": "hi"}
    url = f"{prism}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

    assert httpx.post(url, data=form).status_code == 401
    assert httpx.post(url, data=form, auth=(ACCOUNT_SID, "t")).status_code == 201


def test_a_missing_contract_skips_here_and_fails_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLARION_TWILIO_CONTRACT", str(tmp_path / "absent.json"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"absent\.json"):
        contract()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"absent\.json"):
        contract()
    (tmp_path / "absent.json").write_text("{}")
    assert contract() == tmp_path / "absent.json"

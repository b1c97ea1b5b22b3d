"""Twilio's request signature (``X-Twilio-Signature``) on the callbacks it sends.

Twilio's documented algorithm: take the full URL it requested (query string
included), append each POST parameter's name and value with no delimiters,
parameters sorted by name (case-sensitive), and sign that string with
HMAC-SHA1 under the account's auth token; the header is its Base64.
Because proxies disagree about default ports, the URL is also tried with the
port added and removed, as Twilio's own validators do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

SIGNATURE_HEADER = "X-Twilio-Signature"


def compute_signature(url: str, params: Iterable[tuple[str, str]], token: str) -> str:
    """The Base64 HMAC-SHA1 signature Twilio sends for a POST of ``params`` to ``url``."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(
        name + value for name in sorted(values) for value in sorted(values[name])
    )
    digest = hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _port_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets in the netloc
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default

    def with_netloc(netloc: str) -> str:
        return SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment).geturl()

    return [url, with_netloc(f"{prefix}{host}"), with_netloc(f"{prefix}{host}:{port}")]


def verify_signature(
    urls: Iterable[str], params: list[tuple[str, str]], tokens: Iterable[str], signature: str
) -> bool:
    """True when ``signature`` signs ``params`` POSTed to any of ``urls`` under any of
    ``tokens`` (accounts, or a token being rotated). Comparison is constant-time."""
    if not signature:
        return False
    given = signature.strip().encode()
    token_list = list(tokens)
    for url in urls:
        for candidate in _port_variants(url):
            for token in token_list:
                expected = compute_signature(candidate, params, token).encode()
                if hmac.compare_digest(expected, given):
                    return True
    return False

"""Fresh keys for the push peers: an APNs ``.p8``-style key, a service account, VAPID."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def _pkcs8(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class KeyPair:
    private_pem: str  # PKCS#8, like Apple's .p8 and Google's key files
    public_pem: str


def ec_key() -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(_pkcs8(key), _public_pem(key))


def rsa_key() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return KeyPair(_pkcs8(key), _public_pem(key))


@dataclass(frozen=True)
class Vapid:
    private_raw: str  # base64url of the 32-byte private value
    public_raw: str  # base64url of the uncompressed point: the applicationServerKey


def vapid_key() -> Vapid:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return Vapid(b64url(private), b64url(public))


def service_account_file(
    path: Path, key: KeyPair, token_uri: str, project: str = "clarion-test"
) -> Path:
    """A service-account key file in Google's format."""
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": project,
                "private_key_id": "kid-1",
                "private_key": key.private_pem,
                "client_email": f"push@{project}.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return path

"""DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1) and the keys that sign them.

Pure: bytes in, answers out. cosign signs an attestation as a DSSE envelope whose signature is
over the pre-authentication encoding ``PAE(payloadType, payload)``; with a key from
``cosign generate-key-pair`` that is ECDSA P-256 over SHA-256, DER-encoded. A key is named by
the SHA-256 of its DER SubjectPublicKeyInfo, so policy, records and logs can say which key
signed without carrying the PEM.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


class EnvelopeError(ValueError):
    """Bytes that are not a DSSE envelope (not JSON, no payload, payload not base64...)."""


class TrustedKeyError(ValueError):
    """A trusted key c2c cannot load (not PEM, not a public key, unsupported algorithm)."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1's pre-authentication encoding: ``DSSEv1 SP LEN(type) SP type SP LEN(body) SP body``
    with lengths as ASCII decimal byte counts."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise EnvelopeError(f"{what} is not a string")
    try:
        # Standard or URL-safe, padded or not: the spec allows either on input.
        padded = text + "=" * (-len(text) % 4)
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(f"{what} is not base64") from exc


def parse_envelope(raw: bytes) -> Envelope:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise EnvelopeError("not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("payloadType"), str):
        raise EnvelopeError("no payloadType")
    signatures = data.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise EnvelopeError("no signatures")
    sigs = tuple(_b64(s.get("sig") if isinstance(s, dict) else None, "signature") for s in signatures)
    return Envelope(data["payloadType"], _b64(data.get("payload"), "payload"), sigs)


@dataclass(frozen=True)
class TrustedKey:
    """A public key the policy trusts, and its name (``sha256:<hex of DER SubjectPublicKeyInfo>``)."""

    key_id: str
    public_key: object

    def verifies(self, signature: bytes, message: bytes) -> bool:
        key = self.public_key
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            elif isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, message, rsa_padding.PKCS1v15(), hashes.SHA256())
            elif isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, message)
            else:
                return False
        except (InvalidSignature, ValueError):
            return False
        return True


def load_public_key(pem: bytes | str) -> TrustedKey:
    """A PEM public key (``cosign.pub``) as a trusted key."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TrustedKeyError(f"not a PEM public key ({exc})") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise TrustedKeyError(f"unsupported key type {type(key).__name__}: want ECDSA, RSA or Ed25519")
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return TrustedKey("sha256:" + hashlib.sha256(der).hexdigest(), key)


def signer(envelope: Envelope, keys: tuple[TrustedKey, ...]) -> TrustedKey | None:
    """The first trusted key one of the envelope's signatures verifies under, over its PAE."""
    message = pae(envelope.payload_type, envelope.payload)
    for signature in envelope.signatures:
        for key in keys:
            if key.verifies(signature, message):
                return key
    return None

#!/usr/bin/env python3
"""Writes testkit/vectors/e2e.json: known-answer vectors for each step of the
encrypted rooms' scheme (docs/encryption.md), computed with pyca/cryptography
(OpenSSL), an implementation independent of both the page's WebCrypto and the
Rust test client. Fixed inputs, so the file only changes when the scheme does.

    pip install cryptography && python3 scripts/e2e-vectors.py
"""

import base64
import json
import pathlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.keywrap import aes_key_wrap


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_pair(scalar_hex: str):
    private = ec.derive_private_key(int(scalar_hex, 16), ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    numbers = private.private_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "d": b64u(numbers.private_value.to_bytes(32, "big")),
        "x": b64u(numbers.public_numbers.x.to_bytes(32, "big")),
        "y": b64u(numbers.public_numbers.y.to_bytes(32, "big")),
    }
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private, public, jwk, pkcs8


CHATROOM = "0190f3a2-6c1e-7b44-9d2a-5e8f1c3b7a61"
RECIPIENT = "0190f3a2-6c1e-7b44-9d2a-5e8f1c3b7a62"
SENDER = "0190f3a2-6c1e-7b44-9d2a-5e8f1c3b7a63"
MESSAGE = "0190f3a2-6c1e-7b44-9d2a-5e8f1c3b7a64"
EPOCH = 3
ROOM_KEY = bytes(range(0x20, 0x40))

recipient, recipient_public, recipient_jwk, recipient_pkcs8 = key_pair(
    "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"
)
ephemeral, ephemeral_public, ephemeral_jwk, _ = key_pair(
    "519b423d715f8b581f4fa8ee59f4771a5b44c8130b4e3eacca54a56dda72b464"
)
shared = ephemeral.exchange(ec.ECDH(), recipient.public_key())
info = f"chat-room-key/v1|{CHATROOM}|{EPOCH}|{RECIPIENT}"
kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=info.encode()).derive(shared)
envelope = {
    "chatroom_id": CHATROOM,
    "epoch": EPOCH,
    "recipient_user_id": RECIPIENT,
    "recipient_private_jwk": recipient_jwk,
    "recipient_private_pkcs8": b64u(recipient_pkcs8),
    "recipient_public_key": b64u(recipient_public),
    "ephemeral_private_jwk": ephemeral_jwk,
    "ephemeral_public_key": b64u(ephemeral_public),
    "room_key": b64u(ROOM_KEY),
    "shared": b64u(shared),
    "info": info,
    "kek": b64u(kek),
    "wrapped_key": b64u(aes_key_wrap(kek, ROOM_KEY)),
}


def sealed(aad: str, iv: bytes, plaintext: str) -> dict:
    ciphertext = AESGCM(ROOM_KEY).encrypt(iv, plaintext.encode(), aad.encode())
    return {
        "chatroom_id": CHATROOM,
        "epoch": EPOCH,
        "sender_user_id": SENDER,
        "room_key": b64u(ROOM_KEY),
        "aad": aad,
        "iv": b64u(iv),
        "plaintext": plaintext,
        "ciphertext": b64u(ciphertext),
    }


message = sealed(
    f"chat-msg/v1|{CHATROOM}|{EPOCH}|{SENDER}",
    bytes(range(12)),
    json.dumps(
        {"content": "Café at 10? @bob 🎉", "mentions": ["bob"]},
        ensure_ascii=False,
        separators=(",", ":"),
    ),
)
edit = sealed(
    f"chat-msg/v1|{CHATROOM}|{EPOCH}|{SENDER}|{MESSAGE}",
    bytes(range(12, 24)),
    json.dumps({"content": "Café at 11?"}, ensure_ascii=False, separators=(",", ":")),
)
edit["message_id"] = MESSAGE

PASSPHRASE = "correct horse battery staple ✓"
SALT = bytes(range(0x40, 0x50))
ITERATIONS = 310000
BACKUP_IV = bytes(range(0x50, 0x5C))
backup_key = PBKDF2HMAC(hashes.SHA256(), 32, SALT, ITERATIONS).derive(PASSPHRASE.encode())
backup_aad = f"chat-key-backup/v1|{RECIPIENT}"
backup = {
    "user_id": RECIPIENT,
    "passphrase": PASSPHRASE,
    "salt": b64u(SALT),
    "iterations": ITERATIONS,
    "derived_key": b64u(backup_key),
    "iv": b64u(BACKUP_IV),
    "aad": backup_aad,
    "pkcs8": b64u(recipient_pkcs8),
    "public_key": b64u(recipient_public),
    "ciphertext": b64u(AESGCM(backup_key).encrypt(BACKUP_IV, recipient_pkcs8, backup_aad.encode())),
}

FILE_KEY = bytes(range(0x60, 0x80))
FILE_IV = bytes(range(0x80, 0x8C))
FILE = "canary file body\n".encode() * 3
file = {
    "key": b64u(FILE_KEY),
    "iv": b64u(FILE_IV),
    "plaintext": b64u(FILE),
    "ciphertext": b64u(AESGCM(FILE_KEY).encrypt(FILE_IV, FILE, None)),
}

vectors = {
    "scheme": "docs/encryption.md",
    "envelope": envelope,
    "message": message,
    "edit": edit,
    "backup": backup,
    "file": file,
}
out = pathlib.Path(__file__).resolve().parent.parent / "testkit" / "vectors" / "e2e.json"
out.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n")
print(f"wrote {out}")

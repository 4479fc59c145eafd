#!/usr/bin/env python3
"""Independent check of `crabglamp audit prove SEQ --json` output.

Written from the specifications, not from the Rust code:
- C2SP signed-note (https://c2sp.org/signed-note): verifier key `<name>+<hex key id>+<base64(0x01 || key)>`,
  key id = first 4 bytes of SHA-256(name || 0x0A || 0x01 || key); a note is text, a blank line, and
  signature lines `— <name> <base64(key id || Ed25519 signature of the text)>`.
- C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): text lines origin, tree size, base64 root.
- RFC 6962 §2.1 / RFC 9162 §2.1.1 hashing (leaf 0x00, node 0x01) and the inclusion proof check of
  RFC 9162 §2.1.3.2.

Usage: verify_audit_proof.py FILE.json   (exit 0 and "ok: ..." on success, 1 with the reason otherwise)
Needs the standard library and the `cryptography` package.
"""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(why):
    print(f"FAIL: {why}")
    sys.exit(1)


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def parse_verifier_key(vkey):
    name, key_id_hex, key_b64 = vkey.split("+", 2)
    key = base64.b64decode(key_b64, validate=True)
    if len(key) != 33 or key[0] != 0x01:
        fail("verifier key is not an Ed25519 note key")
    key_id = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    if key_id.hex() != key_id_hex:
        fail("verifier key id does not match its name and key")
    return name, key_id, key[1:]


def verify_note(note, name, key_id, public):
    if "\n\n" not in note:
        fail("checkpoint has no blank line before its signatures")
    text, sigs = note.rsplit("\n\n", 1)
    text = (text + "\n").encode()
    key = Ed25519PublicKey.from_public_bytes(public)
    for line in sigs.split("\n"):
        if not line:
            continue
        if not line.startswith("\u2014 "):
            fail(f"bad signature line {line!r}")
        sig_name, sig_b64 = line[2:].split(" ", 1)
        raw = base64.b64decode(sig_b64, validate=True)
        if sig_name == name and raw[:4] == key_id:
            try:
                key.verify(raw[4:], text)
            except InvalidSignature:
                fail("checkpoint signature does not verify")
            return text.decode()
    fail("checkpoint carries no signature by the given key")


def verify_inclusion(index, size, leaf, path, root):
    # RFC 9162 §2.1.3.2
    if index >= size:
        fail("leaf index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            fail("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        fail("inclusion proof too short")
    if r != root:
        fail("inclusion proof does not lead to the signed root")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        proof = json.load(f)
    name, key_id, public = parse_verifier_key(proof["key"])
    body = verify_note(proof["checkpoint"], name, key_id, public)
    lines = body.split("\n")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    if origin != name:
        fail("checkpoint origin is not the key's name")
    if size != proof["treeSize"]:
        fail("tree size differs from the checkpoint's")
    event_bytes = base64.b64decode(proof["eventBytes"], validate=True)
    seq = proof["event"]["seq"]
    if f"\nseq={len(str(seq))}:{seq}\n".encode() not in event_bytes:
        fail("event bytes are not those of the event")
    leaf = hashlib.sha256(b"\x00" + event_bytes).digest()
    path = [base64.b64decode(h, validate=True) for h in proof["inclusionProof"]]
    verify_inclusion(proof["leafIndex"], size, leaf, path, root)
    print(f"ok: event {seq} is in checkpoint #{size} signed by {name}")


if __name__ == "__main__":
    main()

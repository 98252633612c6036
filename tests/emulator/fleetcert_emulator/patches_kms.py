"""Fidelity patches for moto's KMS (TrentService, awsJson1_1).

moto 5.2.5 encrypts, decrypts and generates data keys under a disabled key or
one pending deletion. AWS refuses ("Key states of AWS KMS keys", KMS Developer
Guide, https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html:
Encrypt, Decrypt, GenerateDataKey and ReEncrypt fail on a Disabled key with
"[1] DisabledException: <key ARN> is disabled." and on a PendingDeletion key
with "[3] KMSInvalidStateException: <key ARN> is pending deletion."). The KMS
API Reference lists both errors for each of these operations
(https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html#API_Encrypt_Errors).

A key made unusable through POST /_fleetcert/kms/deny (kmsuse.py) answers
AccessDeniedException for these operations, as a key policy that does not
allow the caller does.
"""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError
from moto.kms.models import KmsBackend

from . import kmsuse


def _raise(refusal: kmsuse.KmsRefusal):
    e = JsonRESTError(refusal.code, refusal.message)
    e.code = 400  # KMS's errors are all HTTP 400 (botocore's KMS model gives none other)
    raise e


def _check(backend: KmsBackend, key_id: str, action: str) -> None:
    key = backend.keys.get(backend.any_id_to_key_id(key_id))
    if key is None:
        return  # moto's own NotFoundException follows
    refusal = kmsuse.key_policy_refusal(key, action) or kmsuse.state_refusal(key)
    if refusal:
        _raise(refusal)


_orig_encrypt = KmsBackend.encrypt
_orig_decrypt = KmsBackend.decrypt
_orig_generate_data_key = KmsBackend.generate_data_key


def encrypt(self, key_id, plaintext, encryption_context):
    _check(self, key_id, "Encrypt")
    return _orig_encrypt(self, key_id, plaintext, encryption_context)


def decrypt(self, ciphertext_blob, encryption_context, key_id=None):
    plaintext, arn = _orig_decrypt(self, ciphertext_blob, encryption_context, key_id)
    # the key is the one the ciphertext names (moto found it decrypting)
    _check(self, arn, "Decrypt")
    return plaintext, arn


def generate_data_key(self, key_id, encryption_context, number_of_bytes, key_spec):
    # checked before moto's generate_data_key encrypts (through encrypt above)
    _check(self, key_id, "GenerateDataKey")
    return _orig_generate_data_key(self, key_id, encryption_context, number_of_bytes, key_spec)


def apply() -> None:
    KmsBackend.encrypt = encrypt
    KmsBackend.decrypt = decrypt
    KmsBackend.generate_data_key = generate_data_key

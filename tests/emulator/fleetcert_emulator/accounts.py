"""Account isolation: an access key id of exactly 12 digits selects that account.

moto maps access keys to accounts in ``moto.iam.models.get_account_id_from``
(called from ``BaseResponse.get_current_account``). Tests share one emulator and
moto's reset is global, so each test uses its own 12-digit access key id and so
its own account. Any other key keeps moto's behaviour (default 123456789012).
"""

from __future__ import annotations

import re

import moto.iam.models as iam_models
from moto.core import DEFAULT_ACCOUNT_ID

_TWELVE_DIGITS = re.compile(r"^\d{12}$")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")

_orig_get_account_id_from = iam_models.get_account_id_from


def account_for_access_key(access_key: str | None) -> str:
    if access_key and _TWELVE_DIGITS.match(access_key):
        return access_key
    if not access_key:
        return DEFAULT_ACCOUNT_ID
    return _orig_get_account_id_from(access_key)


def account_region_from_auth(authorization: str | None) -> tuple[str, str, str | None]:
    """(account, region, signing service) from a SigV4 Authorization header."""
    if authorization:
        m = _CREDENTIAL.search(authorization)
        if m:
            return account_for_access_key(m.group(1)), m.group(2), m.group(3)
    return DEFAULT_ACCOUNT_ID, "us-east-1", None


def access_key_from_auth(authorization: str | None) -> str | None:
    """The access key id a SigV4 Authorization header was signed with."""
    m = _CREDENTIAL.search(authorization or "")
    return m.group(1) if m else None


def apply() -> None:
    iam_models.get_account_id_from = account_for_access_key

    # moto only recognises 20-character access keys in the Authorization header;
    # widen the pattern so a 12-digit key id reaches get_account_id_from.
    from moto.core.responses import BaseResponse

    BaseResponse.access_key_regex = re.compile(
        r"AWS.*(?P<access_key>(?<![A-Z0-9])(?:[A-Z0-9]{20}|\d{12})(?![A-Z0-9]))[:/]"
    )

"""URIs: their scheme, and a form with every secret hidden that is safe to print or log.

:func:`mask_uri` is the one place superlite hides passwords, for every kind of URI it meets:
database URIs, broker URLs (a Redis failover list ``redis://:a@h1/0;redis://:b@h2/0`` masks each
part), passwords holding ``/`` or ``@`` that their owner did not percent-encode, and secrets in the
query string (``?password=...``). SQLAlchemy's ``render_as_string(hide_password=True)`` and kombu's
``maybe_sanitize_url`` each cover part of this (kombu's shows every failover host after the first
unmasked; SQLAlchemy's shows the part of a password after an unencoded ``@``); a single function
covers all of it the same way. :func:`scrub` hides the same secrets inside free text (a driver's
error message), and :func:`unencoded_userinfo` finds the URIs drivers would misread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

#: What replaces a secret.
MASK = "***"

_SECRET_QUERY_KEYS = re.compile(r"(?i)(^|[?&;])((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)=)[^&;#]*")
_HOST = re.compile(r"[\w.\-\[\]:,%]*(?=[/?#]|$)")


def uri_scheme(uri: str) -> str:
    """The scheme of ``uri`` (the part before ``://``), lower-cased; ``""`` when there is none."""
    head, sep, _ = uri.partition("://")
    return head.lower() if sep else ""


def mask_uri(uri: str | None) -> str:
    """``uri`` with every password and secret query value replaced by ``***``."""
    if not uri:
        return str(uri)
    return ";".join(_mask_one(part) for part in uri.split(";"))


def uri_secrets(uri: str | None) -> list[str]:
    """The secrets :func:`mask_uri` hides in ``uri`` (passwords, secret query values), as written
    and percent-decoded, longest first: for scrubbing text that may quote them, such as a
    driver's error message."""
    found: set[str] = set()
    for part in (uri or "").split(";"):
        _, sep, rest = part.partition("://")
        at = _userinfo_end(rest) if sep else -1
        if at >= 0:
            found.add(rest[:at].partition(":")[2])
        found.update(match.group(0).partition("=")[2] for match in _SECRET_QUERY_KEYS.finditer(part))
    found |= {unquote(secret) for secret in found}
    return sorted((s for s in found if s), key=len, reverse=True)


def scrub(text: str, uris: Iterable[str | None]) -> str:
    """``text`` with every secret of ``uris`` replaced by ``***``."""
    for uri in uris:
        for secret in uri_secrets(uri):
            text = text.replace(secret, MASK)
    return text


def unencoded_userinfo(uri: str) -> bool:
    """Whether a part of ``uri`` has user information holding an unencoded ``@`` or ``/``.

    Drivers split such a URI elsewhere than :func:`mask_uri` does (SQLAlchemy takes the first
    ``@``, kombu stops at the first ``/``), so they would connect to a host made of part of the
    password and name it in their errors. Such URIs are refused instead (percent-encode them).
    """
    for part in uri.split(";"):
        _, sep, rest = part.partition("://")
        if not sep or rest.startswith("/"):
            continue
        at = _userinfo_end(rest)
        if at >= 0 and ("@" in rest[:at] or "/" in rest[:at]):
            return True
    return False


def _mask_one(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return _mask_query(uri)
    at = _userinfo_end(rest)
    if at >= 0:
        userinfo, authority_and_path = rest[:at], rest[at + 1 :]
        user, colon, _ = userinfo.partition(":")
        rest = f"{user}:{MASK}@{authority_and_path}" if colon else f"{userinfo}@{authority_and_path}"
    return f"{scheme}://{_mask_query(rest)}"


def _mask_query(text: str) -> str:
    return _SECRET_QUERY_KEYS.sub(lambda match: f"{match.group(1)}{match.group(2)}{MASK}", text)


def _userinfo_end(rest: str) -> int:
    """The index of the ``@`` that ends the user information, or -1.

    The rightmost ``@`` followed by something shaped like a host list, so that a password with
    an unencoded ``@`` or ``/`` is still hidden whole, and an ``@`` in a path or query is not
    taken for one.
    """
    position = len(rest)
    while (position := rest.rfind("@", 0, position)) >= 0:
        if _HOST.match(rest, position + 1):
            prefix = rest[:position]
            if "?" not in prefix and "#" not in prefix:
                return position
    return -1

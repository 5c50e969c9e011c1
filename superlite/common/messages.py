"""Error messages that quote a cause: a driver's or broker's words inside a sentence of superlite's own."""

from __future__ import annotations


def sentence(text: str) -> str:
    """``text`` on one line, ending with one full stop (or with its own ``?`` or ``!``).

    Drivers end their messages with a full stop, a question or nothing, and some span lines;
    quoted as they are, the fix that follows reads ``refused.. Check`` or ``connections?. Check``.
    """
    text = " ".join(text.split()).rstrip(". ")
    return text if text.endswith(("?", "!")) else f"{text}."


def cause(exc: BaseException) -> str:
    """``exc`` quoted as one :func:`sentence`: its type, then its message when it has one.

    Some exceptions carry no message (``TimeoutError()``); their type alone still says something.
    """
    text = str(exc).strip()
    return sentence(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)

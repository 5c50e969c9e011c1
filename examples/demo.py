"""superlite in one minute: apply, version, load and predict a model.

Runs on the embedded default (a SQLite file under ./.superlite/, in-process compute) unless
``--uri`` or ``$SUPERLITE_URI`` names another database, e.g. ``--uri mongomock://demo``.
"""

from __future__ import annotations

import argparse

import superlite
from superlite import ObjectModel

POSITIVE = {"good", "great", "love", "excellent", "happy"}
NEGATIVE = {"bad", "awful", "hate", "terrible", "sad"}


def sentiment(text: str) -> str:
    """Version 0: count positive words only."""
    return "positive" if set(text.lower().split()) & POSITIVE else "neutral"


def sentiment_v2(text: str) -> str:
    """Version 1: weigh positive against negative words."""
    words = text.lower().split()
    score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def step(title: str) -> None:
    print(f"\n== {title}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uri", help="database URI (default: $SUPERLITE_URI, else ./.superlite/superlite.db)")
    args = parser.parse_args()

    with superlite.connect(args.uri) as db:
        print(f"connected: {db!r}")
        for identifier in ("sentiment", "shouter"):
            if identifier in db.show("model"):
                db.remove("model", identifier, force=True)
                print(f"(removed {identifier!r} left by an earlier run)")

        step("apply an ObjectModel")
        model = db.apply(ObjectModel("sentiment", object=sentiment))
        print(f"applied {model.identifier!r}: version {model.version}, uuid {model.uuid}")

        step("apply identical content again: no new version")
        again = db.apply(ObjectModel("sentiment", object=sentiment))
        print(f"version {again.version}, same uuid: {again.uuid == model.uuid}")

        step("apply changed content: version 1")
        changed = db.apply(ObjectModel("sentiment", object=sentiment_v2))
        print(f"version {changed.version}, uuid {changed.uuid}")

        step("load by identifier (latest), by version and by uuid")
        text = "I love it but the ending was awful and sad"
        latest = db.load("model", "sentiment")
        first = db.load("model", "sentiment", version=0)
        by_uuid = db.load("model", "sentiment", uuid=changed.uuid)
        print(f"latest   -> {latest!r}: {latest.predict(text)}")
        print(f"version 0 -> {first!r}: {first.predict(text)}")
        print(f"by uuid  -> {by_uuid!r}: {by_uuid.predict(text)}")

        step("serve=True: predicts locally before apply, through db.compute after")
        served = ObjectModel("shouter", object=lambda s: s.upper() + "!", serve=True)
        print(f"before apply: {served!r} -> {served.predict('hello')}")
        db.apply(served)
        print(f"after apply:  {served!r} -> {served.predict('hello')} (via {db.compute_backend.name} compute)")

        step("show")
        print(f"db.show()                          -> {db.show()}")
        print(f"db.show('model')                   -> {db.show('model')}")
        print(f"db.show('model', 'sentiment')      -> {db.show('model', 'sentiment')}")


if __name__ == "__main__":
    main()

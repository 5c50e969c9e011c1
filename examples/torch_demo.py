"""A TorchModel end to end: stored as import path + state_dict, loaded with weights_only=True.

Runs on the embedded default unless ``--uri`` or ``$SUPERLITE_URI`` names another database.
"""

from __future__ import annotations

import argparse

import torch
from superlite_torch import TorchModel
from torch_nets import TinyClassifier

import superlite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uri", help="database URI (default: $SUPERLITE_URI, else ./.superlite/superlite.db)")
    args = parser.parse_args()
    torch.manual_seed(0)

    with superlite.connect(args.uri) as db:
        if "classifier" in db.show("model"):
            db.remove("model", "classifier", force=True)

        net = TinyClassifier(4, 3)
        applied = db.apply(TorchModel("classifier", object=net, batch_size=64, postprocess=lambda y: int(y.argmax())))
        record = db.record("model", "classifier")
        print(f"applied 'classifier' version {applied.version}: {record.params['module_class']} {record.params['module_args']}")

        x = torch.randn(4)
        proxy = db.load("model", "classifier")
        print(f"loaded {proxy!r}")
        print(f"local module says class {int(net(x).argmax())}, stored model says class {proxy.predict(x)}")
        batch = [torch.randn(4) for _ in range(1000)]
        print(f"predict_batches over 1000 inputs -> first ten: {proxy.predict_batches(batch)[:10]}")


if __name__ == "__main__":
    main()

"""An importable home for the example network, so superlite stores its import path, not its code."""

from torch import nn


class TinyClassifier(nn.Module):
    """A two-layer classifier; its constructor arguments are kept as attributes of the same name."""

    def __init__(self, n_in: int, n_classes: int, hidden: int = 16) -> None:
        super().__init__()
        self.n_in, self.n_classes, self.hidden = n_in, n_classes, hidden
        self.layers = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x):
        return self.layers(x)

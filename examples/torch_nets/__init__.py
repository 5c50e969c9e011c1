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


class WideMLP(nn.Module):
    """A multi-layer perceptron: ``depth`` hidden layers of ``hidden`` units (bench/serving_batching.py)."""

    def __init__(self, n_in: int, n_out: int, hidden: int = 1024, depth: int = 2) -> None:
        super().__init__()
        self.n_in, self.n_out, self.hidden, self.depth = n_in, n_out, hidden, depth
        layers: list[nn.Module] = [nn.Linear(n_in, hidden), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.ReLU()]
        self.layers = nn.Sequential(*layers, nn.Linear(hidden, n_out))

    def forward(self, x):
        return self.layers(x)

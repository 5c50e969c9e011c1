"""Small modules the plugin's tests store and load (importable, so stored by import path)."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """Two linear layers; keeps its constructor arguments, so they are captured automatically."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_in, self.n_hidden, self.n_out, self.dropout = n_in, n_hidden, n_out, dropout
        self.layers = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(n_hidden, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Opaque(nn.Module):
    """Does not keep its constructor argument: it must be given as module_args."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class Tied(nn.Module):
    """An encoder/decoder pair sharing one weight matrix, plus a non-persistent buffer."""

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.vocab, self.dim = vocab, dim
        self.embed = nn.Embedding(vocab, dim)
        self.decode = nn.Linear(dim, vocab, bias=False)
        self.decode.weight = self.embed.weight
        self.register_buffer("scale", torch.tensor(2.0), persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.decode(self.embed(tokens) * self.scale)


class TwoInputs(nn.Module):
    """Takes two tensors and returns a (sum, difference) tuple."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return a * self.weight + b, a - b


class Big(nn.Module):
    """``blocks`` square float32 matrices of side ``side``: a model of known size for memory tests."""

    def __init__(self, blocks: int, side: int) -> None:
        super().__init__()
        self.blocks, self.side = blocks, side
        self.weights = nn.ParameterList([nn.Parameter(torch.full((side, side), float(i))) for i in range(blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weights[0]


class Vocabulary:
    """A plain Python object, which weights_only loading would refuse."""

    def __init__(self, words: list[str]) -> None:
        self.words = words


class WithExtraState(nn.Module):
    """Keeps extra state in its state_dict: plain values (storable) or an object (``opaque=True``, not)."""

    def __init__(self, opaque: bool = False) -> None:
        super().__init__()
        self.opaque = opaque
        self.linear = nn.Linear(2, 2)
        self.extra: object = None

    def get_extra_state(self) -> object:
        return Vocabulary(["a", "b"]) if self.opaque else {"vocab": ["a", "b"], "version": 3}

    def set_extra_state(self, state: object) -> None:
        self.extra = state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)

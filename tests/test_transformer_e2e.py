"""End to end: a 2-layer causal transformer (token and position embeddings, pre-norm blocks of multi-head
attention and an MLP, layer norm) learns to reverse a sequence of digits, eagerly and under the jit, with the same
losses step for step and >= 99% token accuracy on fresh sequences within a fixed step budget."""
from __future__ import annotations

import numpy as np

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, nn

DIGITS, SEP, LENGTH = 10, 10, 8  # tokens 0-9, a separator; sequences of 8 digits
VOCAB = DIGITS + 1
IGNORE = -100


class Block(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d))

    def forward(self, x: Tensor) -> Tensor:
        y = self.ln1(x)
        x = x + self.attn(y, y, y, is_causal=True, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class CausalTransformer(nn.Module):
    def __init__(self, vocab: int, context: int, d: int = 32, heads: int = 2, layers: int = 2) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(context, d)
        self.blocks = [Block(d, heads) for _ in range(layers)]
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx: Tensor) -> Tensor:
        x = self.tok(idx) + self.pos(Tensor.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def reverse_batch(rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs `x₁…x₈ SEP x₈…x₂` and targets `x₂…x₈ SEP x₈…x₁`, of which only the reversal (after SEP) is scored:
    the model must learn where to look from the positions alone."""
    digits = rng.integers(0, DIGITS, (batch, LENGTH))
    seq = np.concatenate([digits, np.full((batch, 1), SEP), digits[:, ::-1]], axis=1)
    targets = seq[:, 1:].copy()
    targets[:, :LENGTH - 1] = IGNORE
    return seq[:, :-1], targets


def train(jitted: bool, steps: int = 200) -> tuple[list[float], float, list[str]]:
    Tensor.manual_seed(0)
    model = CausalTransformer(VOCAB, 2 * LENGTH)
    opt = tl.optim.Adam(model.parameters(), lr=3e-3)

    def step(x: Tensor, y: Tensor) -> Tensor:
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1), ignore_index=IGNORE)
        loss.backward()
        opt.step()
        return loss

    run = tl.jit(step) if jitted else step
    rng = np.random.default_rng(0)
    losses, args = [], ()
    for _ in range(steps):
        x, y = reverse_batch(rng, 32)
        args = (Tensor(x), Tensor(y))
        losses.append(float(run(*args).item()))
    fallbacks = run.program(*args).fallbacks if jitted else []
    x, y = reverse_batch(np.random.default_rng(1), 500)  # fresh sequences
    with tl.no_grad():
        predicted = model(Tensor(x)).argmax(-1).numpy()
    scored = y != IGNORE
    return losses, float((predicted[scored] == y[scored]).mean()), fallbacks


def test_causal_transformer_learns_to_reverse_eager_and_jitted_alike():
    eager_losses, eager_accuracy, _ = train(jitted=False)
    jit_losses, jit_accuracy, fallbacks = train(jitted=True)
    assert eager_accuracy >= 0.99, f"token accuracy {eager_accuracy:.4f} after 200 steps"
    np.testing.assert_allclose(jit_losses, eager_losses, rtol=1e-4, atol=1e-6)
    assert jit_accuracy == eager_accuracy
    assert eager_losses[-1] < 0.05 * eager_losses[0]
    assert fallbacks == [], fallbacks  # the jit recorded every op kernel by kernel

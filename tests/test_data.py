"""tinygrad_lite.data.DataLoader: every sample once per epoch, batch sizes, drop_last, reproducible shuffling,
the inputs it takes, and clear errors."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.data import DataLoader


def _dataset(n, extra_shapes, dtypes):
    """Arrays whose every entry of sample i is i (so each batch row says which sample it is), one per shape."""
    return [np.broadcast_to(np.arange(n).reshape((n,) + (1,) * len(s)), (n, *s)).astype(dt)
            for s, dt in zip(extra_shapes, dtypes)]


@given(n=st.integers(0, 60), batch_size=st.integers(1, 25), shuffle=st.booleans(), drop_last=st.booleans(),
       seed=st.one_of(st.none(), st.integers(0, 2**32)),
       extra_shapes=st.lists(st.lists(st.integers(1, 3), max_size=2).map(tuple), min_size=1, max_size=3),
       data=st.data())
def test_each_epoch_visits_every_sample_once_in_batches_of_batch_size(n, batch_size, shuffle, drop_last, seed,
                                                                      extra_shapes, data):
    dtypes = data.draw(st.lists(st.sampled_from([np.float32, np.float64, np.int64, np.int32]),
                                min_size=len(extra_shapes), max_size=len(extra_shapes)))
    arrays = _dataset(n, extra_shapes, dtypes)
    loader = DataLoader(*arrays, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
    full, rest = divmod(n, batch_size)
    assert len(loader) == full + (0 if drop_last or rest == 0 else 1)
    for _ in range(2):  # two epochs
        seen = []
        batches = list(loader)
        assert len(batches) == len(loader)
        for k, batch in enumerate(batches):
            assert isinstance(batch, tuple) and len(batch) == len(arrays)
            size = batch_size if k < full else rest
            for t, a in zip(batch, arrays):
                assert isinstance(t, Tensor) and t.shape == (size, *a.shape[1:]) and t.dtype == a.dtype
                assert not t.requires_grad
            ids = batch[0].numpy().reshape(size, -1)[:, 0].astype(np.int64) if size else np.zeros(0, np.int64)
            for t in batch:  # every array's row j belongs to the same sample
                np.testing.assert_array_equal(t.numpy().reshape(size, -1), np.broadcast_to(
                    ids[:, None], (size, max(1, math.prod(t.shape[1:])))).astype(t.dtype))
            seen += ids.tolist()
        if drop_last:
            assert len(seen) == full * batch_size and len(set(seen)) == len(seen) and set(seen) <= set(range(n))
        else:
            assert sorted(seen) == list(range(n))
        if not shuffle:
            assert seen == list(range(len(seen)))


def test_the_same_seed_gives_the_same_epochs_and_each_epoch_reshuffles():
    def epochs(loader, count=4):
        return [[x.tolist() for (x,) in loader] for _ in range(count)]

    data = np.arange(40)
    first = epochs(DataLoader(data, batch_size=8, shuffle=True, seed=7))
    assert first == epochs(DataLoader(data, batch_size=8, shuffle=True, seed=7))
    assert len({str(e) for e in first}) == 4  # four different orders
    assert first != epochs(DataLoader(data, batch_size=8, shuffle=True, seed=8))
    assert epochs(DataLoader(data, batch_size=8), 2) == [[list(range(i, i + 8)) for i in range(0, 40, 8)]] * 2


def test_without_a_seed_tensor_manual_seed_governs_the_order():
    data = np.arange(30)
    Tensor.manual_seed(3)
    a = [[x.tolist() for (x,) in DataLoader(data, batch_size=10, shuffle=True)] for _ in range(3)]
    Tensor.manual_seed(3)
    b = [[x.tolist() for (x,) in DataLoader(data, batch_size=10, shuffle=True)] for _ in range(3)]
    assert a == b and len({str(e) for e in a}) == 3


def test_the_order_is_drawn_when_an_epoch_starts():
    loader = DataLoader(np.arange(20), batch_size=5, shuffle=True, seed=0)
    first, second = iter(loader), iter(loader)  # two epochs started before either is read
    again = DataLoader(np.arange(20), batch_size=5, shuffle=True, seed=0)
    expected = [[x.tolist() for (x,) in again] for _ in range(2)]
    assert [x.tolist() for (x,) in first] == expected[0] and [x.tolist() for (x,) in second] == expected[1]


def test_batches_are_copies_and_the_source_is_read_when_each_batch_is_made():
    X = np.arange(6.0).reshape(3, 2)
    loader = DataLoader(X, batch_size=2)
    (b,) = next(iter(loader))
    b.data[0, 0] = 100.0
    assert X[0, 0] == 0.0
    X[2, 1] = -1.0  # a change to the source before its batch is made shows in that batch
    assert [x.tolist() for (x,) in loader][1] == [[4.0, -1.0]]


def test_tensors_and_nested_lists_are_accepted_with_tensors_dtype_rules():
    loader = DataLoader(Tensor(np.ones((4, 2), dtype=np.float64)), [[1.0], [2.0], [3.0], [4.0]], [0, 1, 0, 1],
                        batch_size=3)
    x, y, labels = next(iter(loader))
    assert (x.dtype, y.dtype, labels.dtype) == (np.float64, np.float32, np.int32)
    assert y.tolist() == [[1.0], [2.0], [3.0]] and labels.tolist() == [0, 1, 0]
    assert "DataLoader(3 array(s) of 4 samples, batch_size=3, shuffle=False" in repr(loader)


def test_a_jitted_training_loop_over_a_loader_equals_eager():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 3)).astype(np.float32), rng.integers(0, 2, 50)

    def train(jitted):
        Tensor.manual_seed(0)
        model = nn.Linear(3, 2)
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(xb, yb):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            return loss

        run = tl.jit(step) if jitted else step
        loader = DataLoader(X, y, batch_size=8, shuffle=True, drop_last=True, seed=1)  # fixed shapes: one capture
        losses = [run(xb, yb).numpy() for _ in range(3) for xb, yb in loader]
        return losses, model.weight.numpy()

    (losses_e, w_e), (losses_j, w_j) = train(False), train(True)
    assert len(losses_e) == 18 and all(a.tobytes() == b.tobytes() for a, b in zip(losses_e, losses_j))
    assert w_e.tobytes() == w_j.tobytes()


@pytest.mark.parametrize("call, error, words", [
    (lambda: DataLoader(), ValueError, "DataLoader needs at least one array"),
    (lambda: DataLoader(np.zeros(5), np.zeros((4, 2))), ValueError,
     r"the arrays must have the same number of samples \(first dimension\), got \[5, 4\] \(shapes \(5,\), \(4, 2\)\)"),
    (lambda: DataLoader(np.zeros(5), batch_size=0), ValueError, "batch_size must be at least 1, got 0"),
    (lambda: DataLoader(np.zeros(5), batch_size=-2), ValueError, "batch_size must be at least 1, got -2"),
    (lambda: DataLoader(np.zeros(5), batch_size=2.5), TypeError, r"batch_size must be an int, got 2.5 \(float\)"),
    (lambda: DataLoader(np.zeros(5), batch_size=True), TypeError, "batch_size must be an int"),
    (lambda: DataLoader(np.zeros(5), shuffle="yes"), TypeError, "shuffle must be True or False, got 'yes'"),
    (lambda: DataLoader(np.zeros(5), drop_last=1), TypeError, "drop_last must be True or False"),
    (lambda: DataLoader(np.zeros(5), seed=-1), ValueError, "seed must be >= 0, got -1"),
    (lambda: DataLoader(np.zeros(5), seed=1.0), TypeError, "seed must be an int or None"),
    (lambda: DataLoader(np.float64(3.0)), ValueError, "array 0 is a scalar; each array needs a first dimension"),
    (lambda: DataLoader(np.zeros(2), np.array(["a", "b"])), TypeError, "array 1 must hold numbers, got dtype <U1"),
    (lambda: DataLoader([1.0, 2.0], ["a", "b"]), TypeError, "DataLoader: array 1: Tensor data must be numeric"),
])
def test_bad_input_gives_a_clear_one_line_error(call, error, words):
    with pytest.raises(error, match=words) as info:
        call()
    assert "\n" not in str(info.value)

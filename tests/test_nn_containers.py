"""nn.ModuleList and nn.ModuleDict: PyTorch's names and state-dict keys after any sequence of list/dict
operations (checked against torch.nn's containers), the same names a plain list/dict attribute gets, and
clear errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_lite import Tensor, nn, optim

torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch comparisons need it")


class Tower(nn.Module):
    def __init__(self, layers, heads):
        super().__init__()
        self.layers = layers
        self.heads = heads

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).tanh()
        return {k: head(x) for k, head in self.heads.items()}


def _tower(container):
    Tensor.manual_seed(0)
    layers = [nn.Linear(3, 4, dtype="float64"), nn.Linear(4, 4, dtype="float64")]
    heads = {"cls": nn.Linear(4, 2, dtype="float64"), "box": nn.Linear(4, 1, dtype="float64")}
    return Tower(nn.ModuleList(layers), nn.ModuleDict(heads)) if container else Tower(layers, heads)


def test_containers_name_parameters_as_plain_lists_and_dicts_do_and_as_torch_does():
    ours, plain = _tower(True), _tower(False)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in plain.named_parameters()]
    assert list(ours.state_dict()) == list(plain.state_dict())

    class TorchTower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(3, 4), torch.nn.Linear(4, 4)])
            self.heads = torch.nn.ModuleDict({"cls": torch.nn.Linear(4, 2), "box": torch.nn.Linear(4, 1)})

        def forward(self, x):
            for layer in self.layers:
                x = layer(x).tanh()
            return {k: head(x) for k, head in self.heads.items()}

    theirs = TorchTower().double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3))
    out, ref = ours(Tensor(x)), theirs(torch.tensor(x))
    for k in ("cls", "box"):
        np.testing.assert_allclose(out[k].numpy(), ref[k].detach().numpy(), rtol=1e-12)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.layers.named_children()] == ["0", "1"]


def test_an_optimizer_trains_the_modules_a_container_holds():
    model = _tower(True)
    opt = optim.SGD(model.parameters(), lr=0.1)
    assert len(opt.params) == 8
    before = [p.numpy() for p in model.parameters()]
    out = model(Tensor(np.ones((2, 3))))
    (out["cls"].sum() + out["box"].sum()).backward()
    opt.step()
    assert all(not np.array_equal(b, p.numpy()) for b, p in zip(before, model.parameters()))


# --- any sequence of operations, against torch.nn's containers ---------------------------------------------------
list_ops = st.lists(st.tuples(st.sampled_from(["append", "insert", "pop", "del", "set", "extend", "iadd", "slice"]),
                              st.integers(-6, 6)), max_size=12)


@settings(deadline=None)
@given(ops=list_ops)
def test_module_list_operations_keep_torchs_names(ops):
    """Applied to a Python list, our ModuleList and torch's: the same modules in the same order, and
    state-dict keys "0.weight", "0.bias", ... as torch.nn.ModuleList's."""
    counter = iter(range(10_000))

    def fresh():
        n = next(counter)
        return nn.Linear(1, 1 + n % 3), torch.nn.Linear(1, 1 + n % 3)

    pairs = [fresh() for _ in range(2)]
    model, ref = [p[0] for p in pairs], [p[1] for p in pairs]
    ours, theirs = nn.ModuleList(model), torch.nn.ModuleList(ref)
    for op, i in ops:
        n = len(model)
        if op in ("pop", "del", "set") and not -n <= i < n:
            with pytest.raises(IndexError, match=f"ModuleList index {i} is out of range for {n} modules"):
                if op == "pop":
                    ours.pop(i)
                elif op == "del":
                    del ours[i]
                else:
                    ours[i] = fresh()[0]
            continue
        if op == "append":
            a, b = fresh()
            model.append(a), ref.append(b)
            assert ours.append(a) is ours
            theirs.append(b)
        elif op == "insert":
            a, b = fresh()
            model.insert(i, a), ours.insert(i, a), ref.insert(i, b)
            # PyTorch's insert handles only 0 <= i <= len (a negative index raises KeyError, a larger one leaves a
            # gap in the names); ours is list.insert. Outside that range torch's is rebuilt from the list.
            if 0 <= i <= n:
                theirs.insert(i, b)
            else:
                theirs = torch.nn.ModuleList(ref)
        elif op == "pop":
            assert ours.pop(i) is model.pop(i)
            theirs.pop(i), ref.pop(i)
        elif op == "del":
            del model[i], ours[i], theirs[i], ref[i]
        elif op == "set":
            a, b = fresh()
            model[i], ours[i], theirs[i], ref[i] = a, a, b, b
        elif op in ("extend", "iadd"):
            new = [fresh() for _ in range(abs(i) % 3)]
            model += [a for a, _ in new]
            ref += [b for _, b in new]
            if op == "extend":
                ours.extend(a for a, _ in new), theirs.extend([b for _, b in new])
            else:
                ours += [a for a, _ in new]
                theirs += [b for _, b in new]
        elif op == "slice":
            part = ours[i:]
            assert isinstance(part, nn.ModuleList) and list(part) == model[i:]
        assert len(ours) == len(model) and all(a is b for a, b in zip(ours, model))
        assert all(ours[k] is model[k] for k in range(-len(model), len(model)))
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [tuple(m.weight.shape) for m in ours] == [tuple(m.weight.shape) for m in theirs]


dict_ops = st.lists(st.tuples(st.sampled_from(["set", "del", "pop", "update", "clear"]),
                              st.sampled_from(["a", "b", "c", "d"])), max_size=12)


@settings(deadline=None)
@given(ops=dict_ops)
def test_module_dict_operations_keep_torchs_order_and_names(ops):
    counter = iter(range(10_000))

    def fresh():
        n = next(counter)
        return nn.Linear(1, 1 + n % 3), torch.nn.Linear(1, 1 + n % 3)

    model: dict = {}
    ours, theirs = nn.ModuleDict(), torch.nn.ModuleDict()
    for op, key in ops:
        if op == "set":
            a, b = fresh()
            model[key] = ours[key] = a
            theirs[key] = b
        elif op in ("del", "pop") and key not in model:
            with pytest.raises(KeyError, match=f"ModuleDict has no key '{key}'; its keys are"):
                ours.pop(key) if op == "pop" else ours.__delitem__(key)
            continue
        elif op == "del":
            del model[key], ours[key], theirs[key]
        elif op == "pop":
            assert ours.pop(key) is model.pop(key)
            theirs.pop(key)
        elif op == "update":
            new = [(k, fresh()) for k in (key, "e")]
            model.update((k, a) for k, (a, _) in new)
            ours.update([(k, a) for k, (a, _) in new])
            theirs.update([(k, b) for k, (_, b) in new])
        elif op == "clear":
            model.clear(), ours.clear(), theirs.clear()
        assert list(ours) == list(ours.keys()) == list(model) == list(theirs.keys())
        assert all(a is b for a, b in zip(ours.values(), model.values())) and dict(ours.items()) == model
        assert len(ours) == len(model) and all((k in ours) == (k in model) for k in "abcde")
        assert list(ours.state_dict()) == list(theirs.state_dict())


def test_module_dict_update_takes_mappings_module_dicts_and_pairs_in_order():
    a, b, c = nn.Linear(1, 1), nn.Linear(1, 2), nn.Linear(1, 3)
    d = nn.ModuleDict([("x", a), ("y", b)])
    d.update({"z": c, "x": b})  # an existing key keeps its place
    assert list(d.items()) == [("x", b), ("y", b), ("z", c)]
    e = nn.ModuleDict(d)
    assert list(e.items()) == list(d.items()) and e is not d
    e.update((k, v) for k, v in [("w", a)])
    assert list(e) == ["x", "y", "z", "w"]


def test_repr_lists_the_modules_by_name():
    text = repr(nn.ModuleList([nn.Linear(2, 3), nn.ReLU()]))
    assert text == ("ModuleList(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)")
    assert "(cls): Linear(in_features=4, out_features=2, bias=True)" in repr(nn.ModuleDict({"cls": nn.Linear(4, 2)}))


def test_a_container_has_no_forward():
    with pytest.raises(NotImplementedError, match="ModuleList does not define forward"):
        nn.ModuleList([nn.ReLU()])(Tensor([1.0]))


@pytest.mark.parametrize("call, error, words", [
    (lambda: nn.ModuleList([nn.ReLU(), "relu"]), TypeError, "ModuleList: item 1 of the modules added must be an "
                                                            "nn.Module, got str"),
    (lambda: nn.ModuleList(nn.ReLU()), TypeError, "ModuleList.extend takes an iterable of modules, got ReLU"),
    (lambda: nn.ModuleList([nn.ReLU()]).append(Tensor([1.0])), TypeError, "appended at index 1 must be an nn.Module"),
    (lambda: nn.ModuleList([nn.ReLU()])["0"], TypeError, "ModuleList indices must be integers or slices, not str"),
    (lambda: nn.ModuleList([nn.ReLU()])[True], TypeError, "not bool"),
    (lambda: nn.ModuleList([nn.ReLU()])[3], IndexError, "ModuleList index 3 is out of range for 1 modules"),
    (lambda: nn.ModuleList().pop(), IndexError, "ModuleList index -1 is out of range for 0 modules"),
    (lambda: nn.ModuleList().insert(0, 3), TypeError, "the module inserted must be an nn.Module, got int"),
    (lambda: nn.ModuleDict({1: nn.ReLU()}), TypeError, "ModuleDict keys must be strings, got 1"),
    (lambda: nn.ModuleDict({"a.b": nn.ReLU()}), ValueError, r"ModuleDict key 'a.b' must be a non-empty string "
                                                            r"without '.'"),
    (lambda: nn.ModuleDict({"": nn.ReLU()}), ValueError, "must be a non-empty string"),
    (lambda: nn.ModuleDict({"a": [nn.ReLU()]}), TypeError, "the value for key 'a' must be an nn.Module, got list"),
    (lambda: nn.ModuleDict([("a", nn.ReLU(), 1)]), TypeError, r"element 0 must be a \(key, module\) pair"),
    (lambda: nn.ModuleDict(["ab"]), TypeError, r"element 0 must be a \(key, module\) pair, got 'ab'"),
    (lambda: nn.ModuleDict(3), TypeError, "ModuleDict.update takes a mapping or an iterable"),
    (lambda: nn.ModuleDict()["x"], KeyError, r"ModuleDict has no key 'x'; its keys are \[\]"),
])
def test_bad_input_gives_a_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_a_failed_update_changes_nothing():
    d = nn.ModuleDict({"a": nn.ReLU()})
    with pytest.raises(TypeError, match="the value for key 'c'"):
        d.update([("b", nn.Tanh()), ("c", "not a module")])
    assert list(d) == ["a"]
    ml = nn.ModuleList([nn.ReLU()])
    with pytest.raises(TypeError):
        ml.extend([nn.Tanh(), None])
    assert len(ml) == 1

"""nn.Module: discovery of tensors and sub-modules, modes, state dicts, repr; nn.Sequential."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_lite import Tensor, nn


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.scale = Tensor([2.0], requires_grad=True)
        self.running = Tensor.zeros(2)  # a buffer: saved, not trained

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = [Block(), Block()]
        self.heads = {"a": nn.Linear(2, 1), "b": nn.Linear(2, 1, bias=False)}
        self.pair = (Tensor([1.0], requires_grad=True), 5, "text", None)
        self.act = nn.Tanh()

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.blocks[1](self.blocks[0](Tensor.ones(x.shape[0], 3)) @ Tensor.ones(2, 3)))
        return (self.heads["a"](h) + self.heads["b"](h)) * self.pair[0]


NET_PARAMS = ["blocks.0.fc.weight", "blocks.0.fc.bias", "blocks.0.scale", "blocks.1.fc.weight", "blocks.1.fc.bias",
              "blocks.1.scale", "heads.a.weight", "heads.a.bias", "heads.b.weight", "pair.0"]


def test_parameters_are_found_in_attributes_lists_tuples_and_dicts_in_order():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == NET_PARAMS
    assert [p.shape for p in net.parameters()] == [p.shape for _, p in net.named_parameters()]
    assert net.parameters()[0] is net.blocks[0].fc.weight
    assert [name for name, _ in net.named_buffers()] == ["blocks.0.running", "blocks.1.running"]


def test_named_modules_and_children():
    net = Net()
    assert [name for name, _ in net.named_modules()] == [
        "", "blocks.0", "blocks.0.fc", "blocks.1", "blocks.1.fc", "heads.a", "heads.b", "act"]
    assert [name for name, _ in net.named_children()] == ["blocks.0", "blocks.1", "heads.a", "heads.b", "act"]
    assert net.children()[0] is net.blocks[0]
    assert net.modules()[0] is net


def test_state_dict_holds_parameters_and_buffers_sharing_data():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["blocks.0.fc.weight", "blocks.0.fc.bias", "blocks.0.scale", "blocks.0.running",
                        "blocks.1.fc.weight", "blocks.1.fc.bias", "blocks.1.scale", "blocks.1.running",
                        "heads.a.weight", "heads.a.bias", "heads.b.weight", "pair.0"]
    assert sd["heads.a.weight"].data is net.heads["a"].weight.data
    assert not sd["heads.a.weight"].requires_grad and sd["heads.a.weight"].grad is None


def test_tensors_computed_by_operations_are_not_parameters():
    class Caching(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = Tensor([1.0, 2.0], requires_grad=True)
            self.last = self.w * 2  # has a graph: an activation, not state

    m = Caching()
    assert [n for n, _ in m.named_parameters()] == ["w"]
    assert list(m.state_dict()) == ["w"]


def test_shared_tensors_and_modules_are_listed_once_as_parameters_but_saved_under_each_name():
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.Linear(2, 2)
            self.dec = self.enc
            self.w = self.enc.weight

    m = Tied()
    assert [n for n, _ in m.named_parameters()] == ["enc.weight", "enc.bias"]
    assert list(m.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias", "w"]
    assert [n for n, _ in m.named_modules()] == ["", "enc"]


def test_a_module_that_refers_back_to_its_parent_does_not_loop():
    outer = nn.Sequential(nn.Linear(1, 1))
    inner = outer[0]
    inner.parent = outer  # type: ignore[attr-defined]
    assert [n for n, _ in outer.named_parameters()] == ["0.weight", "0.bias"]
    assert len(outer.state_dict()) == 2
    assert repr(outer) == ("Sequential(\n  (0): Linear(\n    in_features=1, out_features=1, bias=True\n"
                           "    (parent): <Sequential above>\n  )\n)")


def test_zero_grad_forgets_every_gradient():
    net = Net()
    net(Tensor.ones(4, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_train_and_eval_set_the_flag_on_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(TypeError, match="bool"):
        net.train("no")  # type: ignore[arg-type]


def test_a_subclass_that_skips_super_init_still_works():
    class Lazy(nn.Module):
        def __init__(self) -> None:
            self.w = Tensor([1.0], requires_grad=True)

    m = Lazy()
    assert m.training and m.parameters()[0] is m.w
    m.eval()
    assert m.training is False


def test_call_runs_forward_and_the_base_class_has_none():
    net = Net()
    x = Tensor.ones(3, 2)
    np.testing.assert_array_equal(net(x).data, net.forward(x).data)
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(x)


def test_load_state_dict_copies_in_place_and_reproduces_outputs():
    a, b = Net(), Net()
    x = Tensor.ones(2, 2)
    arrays = [p.data for p in b.parameters()]
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert all(p.data is arr for p, arr in zip(b.parameters(), arrays))  # same arrays, new values
    np.testing.assert_array_equal(a(x).data, b(x).data)
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert pa.data is not pb.data  # copied, not aliased


def test_load_state_dict_accepts_arrays_lists_and_castable_dtypes():
    m = nn.Linear(2, 1)
    m.load_state_dict({"weight": np.array([[1, 2]]), "bias": [0.5]})
    assert m.weight.dtype == np.float32 and m.weight.tolist() == [[1.0, 2.0]] and m.bias.tolist() == [0.5]


def test_load_state_dict_lists_every_problem_in_one_error_and_copies_nothing():
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = {k: v.numpy() for k, v in m.state_dict().items()}
    bad = {"0.weight": np.zeros((2, 3)), "0.bias": np.zeros(3), "1.weight": np.zeros((1, 3)), "extra": np.zeros(1),
           "2.bias": np.zeros(1)}
    with pytest.raises(ValueError) as info:
        m.load_state_dict(bad)
    msg = str(info.value)
    assert "missing keys ['1.bias']" in msg
    assert "unexpected keys ['extra', '2.bias']" in msg
    assert "'0.weight'" in msg and "(3, 2)" in msg and "(2, 3)" in msg
    assert "\n" not in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])


def test_load_state_dict_non_strict_reports_keys_and_still_refuses_bad_shapes():
    m = nn.Linear(2, 1)
    result = m.load_state_dict({"weight": np.ones((1, 2)), "other": np.ones(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    assert m.weight.tolist() == [[1.0, 1.0]]
    with pytest.raises(ValueError, match=r"shape mismatch for 'weight'.*\(1, 2\).*\(2, 1\)"):
        m.load_state_dict({"weight": np.ones((2, 1))}, strict=False)


def test_load_state_dict_refuses_uncastable_values_and_non_mappings():
    m = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="dtype mismatch for 'bias'.*<U1"):
        m.load_state_dict({"weight": np.ones((1, 2)), "bias": np.array(["a"])})
    with pytest.raises(TypeError, match="mapping"):
        m.load_state_dict([("weight", np.ones((1, 2)))])  # type: ignore[arg-type]


def test_repr_is_readable_and_nested():
    model = nn.Sequential(nn.Linear(2, 4, bias=False), nn.LeakyReLU(0.2), nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=4, bias=False)\n"
        "  (1): LeakyReLU(negative_slope=0.2)\n"
        "  (2): Sequential(\n"
        "    (0): Linear(in_features=4, out_features=1, bias=True)\n"
        "    (1): Sigmoid()\n"
        "  )\n"
        ")")
    assert repr(Net()).startswith("Net(\n  (blocks.0): Block(\n    (fc): Linear(in_features=3, out_features=2")


def test_sequential_indexing_iteration_append_and_names():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and model[2] is layers[2] and list(model) == layers
    assert isinstance(model[:2], nn.Sequential) and list(model[:2]) == layers[:2]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    model.append(nn.Sigmoid())
    x = Tensor([[1.0, -2.0]])
    expected = layers[2](layers[1](layers[0](x))).sigmoid()
    np.testing.assert_allclose(model(x).data, expected.data)
    with pytest.raises(TypeError, match="layer 1 must be an nn.Module, got function"):
        nn.Sequential(nn.ReLU(), lambda t: t)
    with pytest.raises(TypeError, match="layer 4"):
        model.append(3)  # type: ignore[arg-type]


def test_a_subclass_of_sequential_keeps_its_own_attributes():
    class Scaled(nn.Sequential):
        def __init__(self) -> None:
            super().__init__(nn.Linear(1, 1))
            self.gain = Tensor([2.0], requires_grad=True)

    assert [n for n, _ in Scaled().named_parameters()] == ["0.weight", "0.bias", "gain"]


@given(widths=st.lists(st.integers(1, 5), min_size=2, max_size=4), bias=st.booleans(), seed=st.integers(0, 99))
def test_a_random_mlp_has_the_expected_parameters_and_survives_a_state_dict_round_trip(widths, bias, seed):
    Tensor.manual_seed(seed)
    layers = []
    for n_in, n_out in zip(widths, widths[1:]):
        layers += [nn.Linear(n_in, n_out, bias=bias), nn.Tanh()]
    a, b = nn.Sequential(*layers), nn.Sequential(*[type(m)(*((m.in_features, m.out_features, bias)
                                                             if isinstance(m, nn.Linear) else ())) for m in layers])
    expected = sum(n_in * n_out + (n_out if bias else 0) for n_in, n_out in zip(widths, widths[1:]))
    assert sum(p.numel() for p in a.parameters()) == expected
    b.load_state_dict(a.state_dict())
    x = Tensor.randn(3, widths[0])
    np.testing.assert_array_equal(a(x).data, b(x).data)

"""nn.save / nn.load: .npz files, no pickle, round trips."""
import numpy as np
import pytest

from tinygrad_lite import Tensor, nn


def _model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, dtype="float64"))


def test_a_module_round_trips_through_a_file(tmp_path):
    Tensor.manual_seed(0)
    a = _model()
    path = tmp_path / "model.npz"
    nn.save(a, path)
    loaded = nn.load(path)
    assert list(loaded) == list(a.state_dict())
    assert all(isinstance(t, Tensor) and not t.requires_grad for t in loaded.values())
    assert loaded["2.weight"].dtype == np.float64 and loaded["0.weight"].dtype == np.float32
    b = _model()
    b.load_state_dict(loaded)
    x = Tensor.randn(5, 3)
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_the_file_is_a_plain_npz_at_exactly_the_given_path(tmp_path):
    path = tmp_path / "weights.bin"
    nn.save({"w": Tensor([1.0, 2.0]), "file": np.arange(3), "flags": np.array([True, False])}, str(path))
    assert path.exists() and not (tmp_path / "weights.bin.npz").exists()
    with np.load(path, allow_pickle=False) as z:
        assert sorted(z.files) == ["file", "flags", "w"]
        np.testing.assert_array_equal(z["file"], np.arange(3))
        assert z["flags"].dtype == np.bool_
    assert nn.load(path)["w"].tolist() == [1.0, 2.0]


def test_load_refuses_pickled_data_and_single_arrays(tmp_path):
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, evil=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        nn.load(pickled)
    single = tmp_path / "single.npy"
    np.save(single, np.ones(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        nn.load(single)


def test_save_refuses_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="keys must be strings"):
        nn.save({1: Tensor([1.0])}, tmp_path / "a.npz")
    with pytest.raises(TypeError, match="'names' holds <U1 data"):
        nn.save({"names": np.array(["a", "b"])}, tmp_path / "b.npz")
    with pytest.raises(TypeError, match="Module or a mapping"):
        nn.save([Tensor([1.0])], tmp_path / "c.npz")  # type: ignore[arg-type]

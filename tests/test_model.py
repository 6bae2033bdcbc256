import pytest
import torch

from sedcycle.model import SEDModel, load_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SEDModel("resnet18", n_species=5).eval()


def test_output_shapes_and_attention(model):
    out = model(torch.rand(2, 128, 512))
    assert out["clipwise"].shape == (2, 5)
    assert out["framewise"].shape == (2, 5, 512)
    steps = out["attention"].shape[-1]
    assert out["attention"].shape == (2, 5, steps) and steps == 512 // 32
    torch.testing.assert_close(out["attention"].sum(-1), torch.ones(2, 5))


def test_clipwise_is_attention_weighted_segment_logits(model):
    x = torch.rand(1, 128, 512)
    features = torch.relu(model.backbone.forward_features(x.unsqueeze(1).expand(-1, 3, -1, -1)))
    features = features.mean(2)
    segment, attention = model.segment(features), torch.softmax(model.attention(features), -1)
    torch.testing.assert_close(model(x)["clipwise"], (segment * attention).sum(-1))


def test_checkpoint_round_trip(tmp_path, model):
    path = tmp_path / "m.pt"
    torch.save(
        {"model_spec": {"backbone": "resnet18", "n_species": 5}, "state_dict": model.state_dict()},
        path,
    )
    x = torch.rand(1, 128, 512)
    torch.testing.assert_close(load_model(path)(x)["clipwise"], model(x)["clipwise"])


def test_load_model_rejects_a_foreign_file(tmp_path):
    path = tmp_path / "bad.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_model(path)

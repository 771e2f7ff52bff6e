"""Every shipped meta-trained export (vsml/pretrained/*.pt except the clones): loads with its provenance, has the
shapes its provenance describes, and runs one meta-test episode as the model it was trained as."""
import pytest
import torch

from vsml import meta
from vsml.evaluate import meta_test
from vsml.meta.models import model_shapes

SHIPPED = [n for n in meta.pretrained_names() if not n.startswith("cloned_")]


def test_the_book_ships_every_kind_of_meta_learner():
    models = {meta.load_pretrained(n)[1]["model"] for n in SHIPPED}
    assert {"vsml", "metarnn", "hebbian", "fwmemory"} <= models


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_export_loads_says_how_it_was_made_and_runs(name):
    params, prov = meta.load_pretrained(name)
    assert prov["name"] == name and prov["steps"] >= 1 and prov["device"] and prov["git_commit"]
    assert prov["config"]["method"] in ("bptt", "es") and prov["dataset"]["name"]
    shapes = model_shapes(prov["model"], prov["model_config"])
    assert {k: tuple(v.shape) for k, v in params.items()} == shapes
    assert prov["num_params"] == sum(torch.Size(s).numel() for s in shapes.values())
    side = prov["config"].get("resize") or 28
    classes = prov["config"].get("n_way") or 10
    x, y = torch.randn(2, 4, side * side), torch.randint(0, classes, (2, 4))
    config = {"vsml_config": prov["model_config"]} if prov["model"].startswith("vsml") else \
        {"model_config": prov["model_config"]}
    out = meta_test(prov["model"], x, y, classes, params=params, **config)
    assert out["loss"].shape == (2, 4) and torch.isfinite(out["loss"]).all()

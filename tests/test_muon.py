"""--optimizer muon: the orthogonalisation, which parameters Muon takes, AdamW's arithmetic on
the rest, an exact resume, and the refusals."""

import csv
import dataclasses

import pytest
import torch
from test_train import kill_after_epoch_2

from hourglass.core.errors import UserError
from hourglass.models import get_family
from hourglass.tasks.text import LMTask
from hourglass.training import TrainConfig, train
from hourglass.training.config import model_config
from hourglass.training.fit import make_optimizer, param_groups
from hourglass.training.muon import MuonAdamW, orthogonalise

LM = dict(family="lm", task="lm", dataset="moby-dick", skip_dim=32, inner_dim=64, depth=2,
          arch={"heads": 2}, context=32, epochs=3, batch_size=16, train_limit=160,
          eval_limit=16, warmup=0, optimizer="muon")


# rectangular Gaussians: a square one has singular values near 0, which 5 steps cannot lift
@pytest.mark.parametrize("rows, cols", [(48, 160), (160, 48)])
def test_the_update_is_near_orthogonal_and_keeps_the_gradients_directions(rows, cols):
    g = torch.randn(rows, cols, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    u, _, vt = torch.linalg.svd(g, full_matrices=False)
    o = orthogonalise(g)
    assert o.shape == g.shape and o.dtype == g.dtype
    s = torch.linalg.svdvals(o)
    # the quintic trades exactness for speed: every singular value lands in about [0.7, 1.2]
    assert float(s.min()) > 0.6 and float(s.max()) < 1.25
    cosine = float((o * (u @ vt)).sum() / (o.norm() * (u @ vt).norm()))
    assert cosine > 0.97


def test_without_muon_groups_it_is_pytorchs_adamw_to_the_last_bit():
    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 3))
    twin = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 3))
    twin.load_state_dict(a.state_dict())
    ours = MuonAdamW(param_groups(a, 0.1, "matrices"), betas=(0.9, 0.95))
    theirs = torch.optim.AdamW(param_groups(twin, 0.1, "matrices"), betas=(0.9, 0.95))
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    for model, opt in ((a, ours), (twin, theirs)):
        for _ in range(5):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for p, q in zip(a.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p, q)


def test_muon_takes_the_layers_matrices_and_adamw_the_embedding_head_and_vectors():
    cfg = TrainConfig(**LM).resolved()
    task = LMTask(81, cfg.context)
    model = get_family("lm").build(model_config(cfg, task))
    opt = make_optimizer(model, cfg)
    muon = {id(p) for g in opt.param_groups if g["muon"] for p in g["params"]}
    names = {n for n, p in model.named_parameters() if id(p) in muon}
    assert names and all(n.startswith("layers.") and p.ndim == 2
                         for n, p in model.named_parameters() if id(p) in muon)
    assert "embed.weight" not in names and not any(n.startswith("head") for n in names)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    assert {g["lr_scale"] for g in opt.param_groups if g["muon"]} == {0.02 / cfg.lr}


def test_a_muon_run_learns_and_resumes_to_the_same_result(tmp_path, monkeypatch):
    cfg = TrainConfig(**LM)
    whole = train(cfg, tmp_path / "whole", progress=False)
    adamw = train(dataclasses.replace(cfg, optimizer="adamw"), tmp_path / "adamw",
                  progress=False)
    rows = csv.DictReader((tmp_path / "whole" / "history.csv").read_text().splitlines())
    losses = [float(r["eval_loss"]) for r in rows]
    assert losses == sorted(losses, reverse=True) and len(set(losses)) == 3
    assert whole["test_bpc"] != adamw["test_bpc"]
    kill_after_epoch_2(monkeypatch, cfg, tmp_path / "cut")
    resumed = train(cfg, tmp_path / "cut", resume=True, progress=False)
    assert (resumed["test_bpc"], resumed["eval_bpc"]) == (whole["test_bpc"], whole["eval_bpc"])


def test_bad_muon_settings_are_refused_in_one_line():
    with pytest.raises(UserError, match="--optimizer 'sgd': choose one of adamw, muon"):
        TrainConfig(**{**LM, "optimizer": "sgd"}).resolved()
    with pytest.raises(UserError, match="--muon-lr must be positive and finite, got 0.0"):
        TrainConfig(**{**LM, "muon_lr": 0.0}).resolved()
    mlp = TrainConfig(dataset="digits", skip_dim=16, inner_dim=8, depth=1, optimizer="muon")
    with pytest.raises(UserError, match="--optimizer muon: the mlp family's model does not"):
        mlp.resolved()

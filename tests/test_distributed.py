"""HAMR under DDP: two CPU processes (torchrun, gloo) against one process with the same global batch.

One ``torchrun --nproc_per_node 2`` launch of ``tests/ddp_worker.py`` trains a tiny BERT (dropout 0) on a real
Idai19 slice for 2 epochs with per-device batch 8, saving a checkpoint per epoch, then, in the same processes,
a second trainer resumes from the epoch-1 checkpoint. The single-process reference runs the same worker in
this process with batch 16.

What can differ between 2 ranks and 1 process, by design:

- the virtual step of the bi-level step: each rank moves θ with the gradient of *its half* of the batch and
  the ranks' hypergradients are averaged (all-reduce), whereas one process moves θ with the whole batch.
  Both agree to first order in the inner step η (the hypergradient is linear in the virtual gradient at
  η → 0), so they differ by O(η²);
- floating point: dynamic padding per half batch, all-reduced sums in another order.

What cannot differ: the batches (the Eq. 4 draw is one global draw, and accelerate's BatchSamplerShard gives
rank r the r-th of every 2 consecutive batches of 8: together exactly the batch of 16), the meta batch (seeded
by the meta-step count, the same on every rank), and the per-batch statistics of method.md §1: the z-score of
the hardness and the mean of s in the weight normalisation are taken over the global batch (hamr.distributed),
not over each rank's half. So with a small η (1e-3 here) the two runs agree closely on everything (measured:
weight net within 2e-5, model within 2e-6, m within 2e-5); with the tests' usual η = 0.5 they would differ by
a few 1e-2 in the weight net, which is the O(η²) term, not a bug.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent
META_LR = 1e-3
PER_DEVICE_BATCH = 8
STEPS_PER_EPOCH = 6  # ⌈1.2 · 80⌉ = 96 draws / global batch 16


def _torchrun(out: Path, timeout: float = 300, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent / "src"), env.get("PYTHONPATH")]))
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(HERE / "ddp_worker.py"), str(out), "--per-device-batch", str(PER_DEVICE_BATCH), "--epochs", "2",
        "--resume", "--meta-update-lr", str(META_LR), *extra,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    proc = _torchrun(out)
    if proc.returncode != 0:
        pytest.fail(f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)]

    import ddp_worker

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each torchrun worker; two threads on a busy 2-core box are ~20x slower
    try:
        single = ddp_worker.run(tmp_path_factory.mktemp("single"), 2 * PER_DEVICE_BATCH, 2, False, META_LR)
    finally:
        torch.set_num_threads(threads)
    return out, ranks, single


def _assert_same_state(a: dict, b: dict, exact: bool = True, atol: float = 0.0, model_atol: float = 0.0) -> None:
    for k in a["wnet"]:
        if exact:
            assert torch.equal(a["wnet"][k], b["wnet"][k]), k
        else:
            torch.testing.assert_close(a["wnet"][k], b["wnet"][k], rtol=0, atol=atol, msg=lambda m: f"wnet {k}: {m}")
    for k in a["model"]:
        if exact:
            assert torch.equal(a["model"][k], b["model"][k]), k
        else:
            torch.testing.assert_close(
                a["model"][k].float(), b["model"][k].float(), rtol=0, atol=model_atol, msg=lambda m: f"model {k}: {m}"
            )
    for key in ("memory", "boost", "p"):
        if exact:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            np.testing.assert_allclose(a[key], b[key], rtol=0, atol=atol, err_msg=key)


def test_ranks_hold_identical_weight_net_memory_sampler_and_model(runs):
    _, (r0, r1), _ = runs
    assert r0["world_size"] == r1["world_size"] == 2
    assert r0["global_step"] == r1["global_step"] == 2 * STEPS_PER_EPOCH
    assert r0["meta_steps"] == r0["global_step"] and r0["meta_skipped"] == 0
    _assert_same_state(r0, r1, exact=True)
    assert r0["losses"] == r1["losses"]  # the logged loss is the mean over both ranks
    assert np.ptp(r0["memory"]) > 1e-3 and r0["p"] is not None and (r0["boost"] > 0).any()  # HAMR really acted
    # the ranks trained on different halves of every global batch
    assert all(a != b for a, b in zip(r0["seen"], r1["seen"]))
    # hamr.distributed's all-reduced z-score and mean equal the single-process statistics of the whole batch
    assert r0["global_stats_error"] < 1e-6 and r1["global_stats_error"] < 1e-6


def test_batch_sharding_gives_the_global_eq4_draw(runs):
    from hamr.resampling import HardnessSampler

    out, (r0, r1), single = runs
    global_batches = [a + b for a, b in zip(r0["seen"], r1["seen"])]
    assert all(len(b) == 2 * PER_DEVICE_BATCH for b in global_batches)
    # epoch 1 (uniform p): exactly the single-process batches of 16
    assert global_batches[:STEPS_PER_EPOCH] == single["seen"][:STEPS_PER_EPOCH]
    # epoch 2: exactly the Eq. 4 draw with the p set at the end of epoch 1 (saved in the epoch-1 checkpoint)
    state = torch.load(out / "full" / f"checkpoint-{STEPS_PER_EPOCH}" / "hamr_state.pt", weights_only=False)
    assert state["sampler"]["probabilities"] is not None
    sampler = HardnessSampler(len(r0["memory"]), seed=11)
    sampler.load_state_dict({**state["sampler"], "epoch": 1})
    assert [i for b in global_batches[STEPS_PER_EPOCH:] for i in b] == sampler.global_draw().tolist()


def test_two_processes_match_one_process_with_the_same_global_batch(runs):
    _, (r0, _), single = runs
    assert single["world_size"] == 1 and single["global_step"] == r0["global_step"]
    # see the module docstring: O(η²) of the per-rank virtual step plus float noise (measured 2e-5 / 2e-6)
    _assert_same_state(r0, single, exact=False, atol=5e-4, model_atol=1e-4)
    np.testing.assert_allclose(r0["losses"], single["losses"], rtol=0, atol=1e-3)
    assert abs(r0["macro_f1"] - single["macro_f1"]) <= 0.05


def test_checkpoint_resume_under_ddp(runs):
    out, (r0, r1), _ = runs
    # rank 0 wrote the HAMR state next to every Trainer checkpoint ...
    assert r0["checkpoints"] == [f"checkpoint-{STEPS_PER_EPOCH}", f"checkpoint-{2 * STEPS_PER_EPOCH}"]
    assert sorted(r0["hamr_state_files"]) == sorted(r0["checkpoints"])
    # ... both ranks loaded it: resumed from epoch 1, each rank ends exactly where the uninterrupted run ended
    for full in (r0, r1):
        res = full["resumed"]
        assert res["resumed_from"] == f"checkpoint-{STEPS_PER_EPOCH}"
        assert res["meta_steps"] == full["meta_steps"] and res["global_step"] == full["global_step"]
        assert res["seen"] == full["seen"][STEPS_PER_EPOCH:]
        _assert_same_state(full, res, exact=False, atol=1e-6, model_atol=1e-6)
    _assert_same_state(r0["resumed"], r1["resumed"], exact=True)


def test_class_residual_under_ddp_ranks_take_the_same_meta_steps(tmp_path):
    """weighting_form=class_residual on two processes: the hypergradients of φ, β and δ are averaged over the
    ranks (each rank's softmax normalises its own share of the batch), so β, δ, the residual net and the model
    are bit-identical on both ranks, and β, δ moved from their start."""
    proc = _torchrun(tmp_path, 300, "--weighting-form", "class_residual")
    if proc.returncode != 0:
        pytest.fail(f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2))
    assert r0["meta_steps"] == r0["global_step"] == 2 * STEPS_PER_EPOCH and r0["meta_skipped"] == 0
    _assert_same_state(r0, r1, exact=True)
    for key in ("beta", "delta"):
        assert torch.equal(r0["class_params"][key], r1["class_params"][key]), key
    moved = (r0["class_params"]["beta"] - r0["class_params"]["beta_start"]).abs().max()
    assert moved > 1e-4 and r0["class_params"]["delta"].abs().max() > 1e-4
    assert all(a != b for a, b in zip(r0["seen"], r1["seen"]))  # each rank trained on its own half


def test_pr_feedback_under_ddp_keeps_beta_identical_on_the_ranks(tmp_path):
    """class_params=pr_feedback on two processes: the meta batch's confusion counts are averaged over the ranks
    before the feedback step, so β (and everything else) is bit-identical on both ranks; β moved, δ stays 0."""
    proc = _torchrun(tmp_path, 300, "--weighting-form", "class_residual", "--class-params", "pr_feedback")
    if proc.returncode != 0:
        pytest.fail(f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2))
    assert r0["meta_steps"] == 2 * STEPS_PER_EPOCH and r0["meta_skipped"] == 0
    _assert_same_state(r0, r1, exact=True)
    assert torch.equal(r0["class_params"]["beta"], r1["class_params"]["beta"])
    assert (r0["class_params"]["beta"] - r0["class_params"]["beta_start"]).abs().max() > 1e-3
    assert torch.equal(r0["class_params"]["delta"], torch.zeros_like(r0["class_params"]["delta"]))

"""How large is GBC's example-weight gradient g = ∂L_meta/∂w? (sets the default of ``gbc_weight_lr``)

MiniLM on Cyclone-Idai19 (length 64), plain CE training with AdamW at lr 4e-5, batch 16; every 10 steps one
L2RW step (``hamr.methods.gbc.trainer.l2rw_weight_step``: a virtual SGD step of lr 4e-5 on the last layer and the
head, meta loss on a balanced batch of 20 training examples) prints the size of g.

    HF_HUB_OFFLINE=1 python benchmarks/runs/gbc_weight_scale.py | tee benchmarks/results/gbc_weight_scale.txt
"""

import numpy as np
import torch
from torch.func import functional_call
from transformers import DataCollatorWithPadding

import hamr
from hamr.methods.gbc.trainer import l2rw_weight_step
from hamr.enums import TaskType
from hamr.losses import WeightedCrossEntropy, per_example_ce
from hamr.tasks import encode_split, load_model, load_tokenizer
from hamr.weighting import frozen_except, math_attention, select_lookahead

LR = 4e-5
torch.set_num_threads(1)
torch.manual_seed(0)
bundle = hamr.load_benchmark("humaid_idai19")
tok = load_tokenizer()
model = load_model(TaskType.CLASSIFICATION, bundle.vocab)
train = encode_split(bundle.train, tok, bundle.vocab, 64)
collate = DataCollatorWithPadding(tok)


def batch(ix):
    return collate([{k: train[int(i)][k] for k in ("input_ids", "attention_mask", "labels")} for i in ix])


opt = torch.optim.AdamW(model.parameters(), lr=LR)
rng = np.random.default_rng(0)
labels = np.array([train[i]["labels"] for i in range(len(train))])
meta_ix = np.concatenate([rng.choice(np.flatnonzero(labels == c), 2, replace=False) for c in range(len(bundle.vocab))])
ce = WeightedCrossEntropy()
print(f"lr {LR}: step, mean |g|, median |g|, max |g|, share of g > 0 (down-weighted examples)")
for step in range(1, 81):
    b = batch(rng.choice(len(train), 16, replace=False))
    y = b.pop("labels")
    if step % 10 == 0:
        params = select_lookahead(model, "last_k", 1)
        with math_attention():
            losses = per_example_ce(model(**b).logits, y)
        meta = batch(meta_ix)
        meta_y = meta.pop("labels")

        def meta_loss_at(p):
            with frozen_except(model, params.values()), math_attention():
                return ce(functional_call(model, p, args=(), kwargs=meta).logits, meta_y)

        g = l2rw_weight_step(torch.ones(16), losses, params, meta_loss_at, LR, 1.0).grad
        print(f"{step:3d}  {g.abs().mean():.2e}  {g.abs().median():.2e}  {g.abs().max():.2e}  {(g > 0).float().mean():.2f}")
    loss = ce(model(**b).logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()

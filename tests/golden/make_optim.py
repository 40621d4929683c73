#!/usr/bin/python3
"""Writes tests/golden/optim.safetensors: parameter trajectories of torch.optim optimisers, LR schedulers and gradient
clipping on small fixed tensors, for tests/NnOptimTests.fs to replay (the tests never run Python).

Run with Debian's python3-torch (1.13):  python3 tests/golden/make_optim.py

Every configuration runs twice, in float64 and in float32, from the same initial values and per-step gradients (drawn
in float64 with a fixed seed, then rounded for float32). Keys, with D the dtype (f64 or f32) and C the configuration:
  D.C.param.K.NAME   parameter NAME after K steps (K = 0: initial values)
  D.C.grad.K.NAME    the gradient given at step K (1-based); absent when the parameter has no gradient at that step
  D.C.norm.K         total norm returned by clip_grad_norm_ at step K (clipping configurations)
  D.C.lr.K           every group's lr after the scheduler's K-th step (schedule configurations; K = 0 after construction)
The configurations themselves (optimiser, options, groups) are mirrored by the table in tests/NnOptimTests.fs.
"""
import math
import os
import sys
from collections import OrderedDict

import torch
from safetensors_writer import write

STEPS = 6
SHAPES = OrderedDict([("w", (3, 4)), ("b", (4,))])


def sgd(params, **kw):
    return torch.optim.SGD(params, **kw)


# name -> (make optimiser from [w, b], make scheduler or None, clip or None, steps where b gets no gradient)
CONFIGS = OrderedDict([
    ("sgd", (lambda p: sgd(p, lr=0.1), None, None, ())),
    ("sgd_momentum", (lambda p: sgd(p, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01), None, None, ())),
    ("sgd_nesterov", (lambda p: sgd(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4), None, None, ())),
    ("adam", (lambda p: torch.optim.Adam(p, lr=0.01), None, None, (3,))),
    ("adam_l2_amsgrad", (lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1,
                                                    amsgrad=True), None, None, ())),
    ("adamw", (lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1), None, None, ())),
    ("adamw_amsgrad", (lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05, amsgrad=True), None, None, ())),
    ("groups", (lambda p: sgd([{"params": [p[0]], "lr": 0.1, "momentum": 0.9}, {"params": [p[1]]}], lr=0.01,
                              momentum=0.5), None, None, ())),
    ("step_lr", (lambda p: sgd(p, lr=0.1, momentum=0.9),
                 lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5), None, ())),
    ("cosine", (lambda p: torch.optim.Adam([{"params": [p[0]]}, {"params": [p[1]], "lr": 0.05}], lr=0.01),
                lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=0.001), None, ())),
    ("clip_norm2", (lambda p: sgd(p, lr=0.1), None, ("norm", 0.5, 2.0), ())),
    ("clip_norm_inf", (lambda p: sgd(p, lr=0.1), None, ("norm", 0.3, math.inf), ())),
    ("clip_value", (lambda p: sgd(p, lr=0.1), None, ("value", 0.05), ())),
])


def run(name, dtype, initial, grads, out):
    make_opt, make_sched, clip, skip_b = CONFIGS[name]
    prefix = f"{'f64' if dtype == torch.float64 else 'f32'}.{name}"
    params = [initial[k].to(dtype).clone().requires_grad_(True) for k in SHAPES]
    opt = make_opt(params)
    sched = make_sched(opt) if make_sched else None
    for k, p in zip(SHAPES, params):
        out[f"{prefix}.param.0.{k}"] = p.detach().clone()
    if sched:
        out[f"{prefix}.lr.0"] = torch.tensor(sched.get_last_lr(), dtype=torch.float64)
    for step in range(1, STEPS + 1):
        opt.zero_grad(set_to_none=True)
        for k, p in zip(SHAPES, params):
            if k == "b" and step in skip_b:
                continue
            p.grad = grads[step][k].to(dtype).clone()
            out[f"{prefix}.grad.{step}.{k}"] = p.grad.clone()
        if clip and clip[0] == "norm":
            total = torch.nn.utils.clip_grad_norm_(params, max_norm=clip[1], norm_type=clip[2])
            out[f"{prefix}.norm.{step}"] = total.detach().to(torch.float64).reshape(())
        elif clip:
            torch.nn.utils.clip_grad_value_(params, clip_value=clip[1])
        opt.step()
        if sched:
            sched.step()
            out[f"{prefix}.lr.{step}"] = torch.tensor(sched.get_last_lr(), dtype=torch.float64)
        for k, p in zip(SHAPES, params):
            out[f"{prefix}.param.{step}.{k}"] = p.detach().clone()


def main():
    torch.manual_seed(0)
    initial = {k: torch.randn(s, dtype=torch.float64) for k, s in SHAPES.items()}
    # Gradients of mixed scale, so that clipping, AMSGrad's maximum and the moments all have work to do.
    grads = {step: {k: torch.randn(s, dtype=torch.float64) * (0.5 + step % 3) for k, s in SHAPES.items()}
             for step in range(1, STEPS + 1)}
    out = OrderedDict()
    for name in CONFIGS:
        for dtype in (torch.float64, torch.float32):
            run(name, dtype, initial, grads, out)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim.safetensors")
    write(path, out, sort=False, metadata= {"generator": "tests/golden/make_optim.py", "torch": torch.__version__,
                                 "steps": str(STEPS), "configs": ",".join(CONFIGS)})
    print(f"{path}: {len(out)} tensors, torch {torch.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Benchmark: lossbench's overhead over a minimal hand-written torch loop.

For each row, one job through lossbench (``lossbench.app.run``: config validation, data,
model, training, metrics, MLflow logging to a throw-away SQLite store) against a hand-written
twin doing the same work without the framework, one per task kind (the same loader, the same
model in the same layout, predicting in the same chunks, and the same optimizer):

* supervised (regression, classification): one epoch (``trainer.epochs=1``) of minibatch
  steps, then one forward pass over the validation and the test split;
* pairs: one epoch of the pairs drawn by the same sampler with the contrastive loss, then the
  embeddings and pair distances of the fixed validation and test pairs;
* gan (rows that set ``trainer.steps``): that many generator steps, each after ``n_critic``
  critic updates (clipping or gradient penalty as the loss says), then one evaluation of the
  generator on the fixed noise (critic estimate and the exact W1 for points; Frechet distance
  and nearest training image for images). lossbench evaluates at step 0 as well and scores
  the real data's floors: its share of the ratio.

lossbench also computes its metrics and logs them; data loading is inside the timing on both
sides. Each measurement runs in its own subprocess, so peak memory is that job's own:

* ``seconds``      wall time of the timed section (median over ``--repeats`` after one warm-up)
* ``py_peak_mb``   Python heap peak of the timed section (tracemalloc; torch tensors are
                   allocated in C and do not show here)
* ``rss_peak_mb``  the process's peak resident memory (``resource.getrusage``): imports
                   (torch, hydra, mlflow), data and tensors included
* ``import_s``     seconds to import what each side needs

Usage (from anywhere; CPU, one torch thread by default):
    python experiments/benchmark.py --quick          # bundled data only, a few minutes
    python experiments/benchmark.py --scenario house_price --scenario spam \\
        --data-dir /path/to/data --out bench.json
    python experiments/benchmark.py --scenario wgan_points --set trainer.steps=20
``house_price_x20`` is 20 seeds in one stacked job (``seeds=[...]``) against the hand-written
loop run once per seed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a row that sets trainer.steps is a GAN run (its budget in generator steps, evaluated once
# at the end: trainer.eval_every = trainer.steps); every other row is one epoch
GAN_POINTS = ["scenario=wgan", "data=gaussians8"]
QUICK = {"diabetes": [], "mnist-digits": ["scenario=mnist", "data=digits"],
         "pairs-digits": ["scenario=face_verification", "data=mnist_pairs",
                          "data.dataset=digits"],
         "wgan-points-50": [*GAN_POINTS, "data.n_eval=500", "trainer.steps=50",
                            "trainer.eval_every=50"]}
FULL = {"diabetes": [], "house_price": ["scenario=house_price"],
        "power_outliers": ["scenario=power_outliers"], "spam": ["scenario=spam"],
        "mnist": ["scenario=mnist", "data.max_train=5000"],
        "cancer_screening": ["scenario=cancer_screening", "data.max_train=5000"],
        # 20 seeds as one stacked model (seeds=[...]) against 20 hand-written loops, one a seed
        "house_price_x20": ["scenario=house_price", f"seeds=[{','.join(map(str, range(20)))}]"],
        "face_verification": ["scenario=face_verification"],
        "wgan_points": [*GAN_POINTS, "trainer.steps=200", "trainer.eval_every=200"],
        "wgan_faces": ["scenario=wgan", "trainer.steps=20", "trainer.eval_every=20"]}


def _overrides(args: argparse.Namespace, extra: list[str]) -> list[str]:
    """The row's overrides with the benchmark's own; ``--set KEY=VALUE`` replaces a row's
    value of KEY (or adds it)."""
    scenario = [] if any(o.startswith("scenario=") for o in extra) else ["scenario=diabetes"]
    gan = any(o.startswith("trainer.steps=") for o in extra)
    budget = [] if gan else ["trainer.epochs=1", "trainer.patience=0"]
    out = [*scenario, *extra, *budget, "device=cpu", f"torch_threads={args.threads}",
           f"seed={args.seed}"]
    if args.data_dir:
        out += [f"data_dir={args.data_dir}", "download=false"]
    merged = {o.split("=", 1)[0]: o for o in out}
    merged |= {o.split("=", 1)[0]: o for o in args.set}
    return list(merged.values())


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from lossbench.config import register_configs  # hydra only: no torch, no mlflow

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # loss_name etc. resolve through hydra:
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def _measure(fn, repeats: int) -> dict[str, float]:
    fn()  # warm-up: first-call costs (lazy imports, allocator) are not the loop's
    times, peaks = [], []
    for _ in range(repeats):
        tracemalloc.start()
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
        peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    return {"seconds": statistics.median(times), "py_peak_mb": max(peaks)}


# --------------------------------------------------------------------------- the two sides
def worker_lossbench(overrides: list[str], repeats: int, plots: bool) -> dict[str, float]:
    tic = time.perf_counter()
    import torch  # noqa: F401

    from lossbench.app import run
    import_s = time.perf_counter() - tic
    store = tempfile.mkdtemp(prefix="lossbench-bench-")
    os.chdir(store)  # MLflow's artifacts land beside the throw-away store
    cfg = _compose([*overrides, f"tracking.uri=sqlite:///{store}/mlflow.db",
                    f"tracking.plots={str(plots).lower()}"])
    from lossbench.app import run_seeds  # seeds=[...]: the stacked job

    return {"import_s": import_s, **_measure(lambda: (run_seeds if cfg.seeds else run)(cfg),
                                             repeats)}


def worker_baseline(overrides: list[str], repeats: int) -> dict[str, float]:
    tic = time.perf_counter()
    import numpy as np  # noqa: F401
    import torch
    from hydra.utils import instantiate  # noqa: F401
    import_s = time.perf_counter() - tic  # lossbench's loader and config are shared

    cfg = _compose(overrides)
    tic = time.perf_counter()
    twin = TWINS[cfg.task]()  # the kind's own imports (the GAN's: POT for its W1)
    import_s += time.perf_counter() - tic
    torch.set_num_threads(cfg.torch_threads or torch.get_num_threads())

    def runs() -> None:  # a stacked lossbench job (seeds=[...]) against one loop per seed
        for seed in cfg.seeds or [cfg.seed]:
            cfg.seed = seed  # the data's split_seed follows
            twin(cfg)

    return {"import_s": import_s, **_measure(runs, repeats)}


def supervised_twin():
    import numpy as np
    import torch
    from hydra.utils import instantiate

    from lossbench.tasks.supervised.classification import EVAL_CHUNK
    from lossbench.torchutil import in_chunks, place

    def one_epoch(cfg) -> None:
        # the same work lossbench's timed run does, minus the framework: load the data (the
        # same loader), one epoch of minibatch Adam, predictions on validation and test (the
        # same model in the same layout, classification predicted in the same chunks)
        regression = cfg.task == "regression"
        k = 1 if regression else int(cfg.data.num_classes)
        splits = instantiate(cfg.data, data_dir=cfg.data_dir, download=cfg.download)
        x, y = torch.as_tensor(splits.x_train), torch.as_tensor(splits.y_train)
        torch.manual_seed(cfg.seed)
        model = place(instantiate(cfg.model, in_shape=splits.x_train.shape[1:],
                                  out_features=k if k > 2 else 1), torch.device("cpu"))
        opt = torch.optim.Adam(model.parameters(), lr=cfg.optimizer.lr)
        if regression:
            loss_fn, target = torch.nn.MSELoss(), y.float()
        elif k > 2:
            loss_fn, target = torch.nn.CrossEntropyLoss(), y.long()
        else:
            loss_fn, target = torch.nn.BCEWithLogitsLoss(), y.float()
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), cfg.trainer.batch_size):
            idx = perm[i:i + cfg.trainer.batch_size]
            out = model(x[idx])
            loss = loss_fn(out.squeeze(-1) if out.shape[-1] == 1 else out, target[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for part in (splits.x_val, splits.x_test):
                part = torch.as_tensor(part)
                np.asarray(model(part) if regression else in_chunks(model, part, EVAL_CHUNK))

    return one_epoch


def pairs_twin():
    import torch
    import torch.nn.functional as F
    from hydra.utils import instantiate

    from lossbench.tasks.pairs.run import EMBED_BATCH
    from lossbench.tasks.pairs.sampler import PairSampler
    from lossbench.torchutil import in_chunks, place

    def one_epoch(cfg) -> dict[str, float]:
        # lossbench's pairs epoch minus the framework: the same loader (identity splits and
        # fixed val/test pairs), the same embedding CNN, one epoch of pairs drawn by the same
        # sampler, the contrastive loss written out, Adam; then embeddings and pair distances
        # on validation and test. (lossbench also scores: best threshold and ROC-AUC, EER,
        # accuracy per split, val every epoch and once more at the end, logs to MLflow.)
        if not cfg.loss._target_.endswith("ContrastiveLoss"):
            raise ValueError(f"loss: the pairs twin writes the contrastive loss out, "
                             f"not {cfg.loss._target_}")
        data = instantiate(cfg.data, data_dir=cfg.data_dir, download=cfg.download)
        s, margin, bs = data.splits, cfg.loss.margin, cfg.trainer.batch_size
        x = {part: torch.as_tensor(s.split(part)[0]) for part in ("train", "val", "test")}
        torch.manual_seed(cfg.seed)
        model = place(instantiate(cfg.model, in_shape=s.x_train.shape[1:]), torch.device("cpu"))
        opt = torch.optim.Adam(model.parameters(), lr=cfg.optimizer.lr)
        idx, same = PairSampler(s.y_train, seed=cfg.seed).pairs(data.pairs_per_epoch,
                                                                data.positive_fraction)
        idx, same = torch.as_tensor(idx), torch.as_tensor(same, dtype=torch.float32)
        model.train()
        for i in range(0, len(idx), bs):
            b, y = idx[i:i + bs], same[i:i + bs]
            emb = model(x["train"][b.reshape(-1)]).reshape(len(b), 2, -1)
            d2 = (emb[:, 0] - emb[:, 1]).pow(2).sum(-1)
            d = torch.where(d2 > 0, d2.clamp_min(1e-30).sqrt(), 0.0)
            loss = (0.5 * (y * d2 + (1 - y) * F.relu(margin - d) ** 2)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        out = {}
        with torch.no_grad():
            for part in ("val", "test"):
                (pairs, same) = data.eval_pairs[part]
                emb = in_chunks(model, x[part], EMBED_BATCH)
                pairs = torch.as_tensor(pairs)
                dist = (emb[pairs[:, 0]] - emb[pairs[:, 1]]).pow(2).sum(-1).sqrt().numpy()
                out |= {f"{part}_pos_dist": float(dist[same == 1].mean()),
                        f"{part}_neg_dist": float(dist[same == 0].mean())}
        return out  # what lossbench logs as final_<split>_pos_dist / _neg_dist

    return one_epoch


def gan_twin():
    import torch
    import torch.nn.functional as F
    from hydra.utils import instantiate

    from lossbench.tasks.gan.features import apply
    from lossbench.tasks.gan.metrics import wasserstein1_exact
    from lossbench.torchutil import place

    def one_run(cfg) -> dict[str, float]:
        # lossbench's GAN run minus the framework: the same loader, generator/critic pair and
        # optimizers; trainer.steps generator steps, each after loss.n_critic critic updates
        # on real batches drawn with replacement (weights clipped for WGAN, the gradient
        # penalty for WGAN-GP, BCE on logits for the standard GAN); then ONE evaluation on the
        # fixed noise: the critic's Wasserstein estimate on the held-out samples and, for
        # points, the exact W1 to them (for images the Frechet distance in the same cached
        # classifier's features and the nearest training image of 256 samples). lossbench
        # also evaluates at step 0 and computes the real-data floors (one more exact W1 / FD
        # each), mode coverage and collapse (points) or the class histogram (images),
        # accumulates its loop statistics, checkpoints at the end and logs to MLflow.
        data = instantiate(cfg.data, data_dir=cfg.data_dir, download=cfg.download)
        torch.manual_seed(cfg.seed)
        pair = place(instantiate(cfg.model, sample_shape=data.sample_shape), torch.device("cpu"))
        gen, critic, latent = pair.generator, pair.critic, pair.latent_dim
        make_opt = instantiate(cfg.optimizer, _convert_="all")
        opt_g, opt_c = make_opt(gen.parameters()), make_opt(critic.parameters())
        loss, bs = cfg.loss, cfg.trainer.batch_size
        standard = loss._target_.endswith("NonSaturatingGanLoss")
        clip, gp = loss.get("clip"), loss.get("gp_lambda")
        x = torch.as_tensor(data.x_train)
        rng = torch.Generator().manual_seed(cfg.seed)
        gen.train(), critic.train()
        for _ in range(cfg.trainer.steps):
            for _ in range(loss.n_critic):
                real = x[torch.randint(len(x), (bs,), generator=rng)]
                with torch.no_grad():
                    fake = gen(torch.randn(bs, latent, generator=rng))
                r, f = critic(real).reshape(bs), critic(fake).reshape(bs)
                total = (F.softplus(-r).mean() + F.softplus(f).mean() if standard
                         else f.mean() - r.mean())
                if gp is not None:
                    eps = torch.rand(bs, generator=rng).reshape(-1, *[1] * (real.dim() - 1))
                    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
                    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
                    total = total + gp * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
                opt_c.zero_grad()
                total.backward()
                opt_c.step()
                if clip is not None:
                    with torch.no_grad():
                        for p in critic.parameters():
                            p.clamp_(-clip, clip)
            critic.requires_grad_(False)
            f = critic(gen(torch.randn(bs, latent, generator=rng))).reshape(bs)
            g_loss = F.softplus(-f).mean() if standard else -f.mean()
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            critic.requires_grad_(True)
        gen.eval(), critic.eval()
        noise = torch.randn(len(data.x_eval), latent,
                            generator=torch.Generator().manual_seed(cfg.seed + 7919))
        with torch.no_grad():
            x_eval, fake = torch.as_tensor(data.x_eval), apply(gen, noise)
            out = {"critic_w_estimate": float(apply(critic, x_eval).mean()
                                              - apply(critic, fake).mean())}
            if data.kind == "points":
                # the measuring instrument is lossbench's, as for images below
                return out | {"w1": wasserstein1_exact(fake.numpy(), data.x_eval)}
            return out | _image_scores(cfg, data, fake)  # lossbench's final_<key>

    return one_run


def _image_scores(cfg, data, fake) -> dict[str, float]:
    """The Frechet distance in the features of the classifier lossbench caches for this data
    set (the measuring instrument, loaded, not trained, here) and each of 256 samples' nearest
    training image."""
    import torch

    from lossbench.tasks.gan.features import apply, feature_classifier
    from lossbench.tasks.gan.metrics import frechet_distance

    tc = cfg.trainer
    clf, _ = feature_classifier(data.x_train, data.y_train, data.info.get("dataset", "images"),
                                cfg.data_dir, epochs=tc.classifier_epochs,
                                max_train=tc.classifier_max_train, device=torch.device("cpu"),
                                dim=tc.classifier_dim)
    real = apply(clf.features, torch.as_tensor(data.x_eval)).double().numpy()
    nearest = torch.cdist(fake[:256].flatten(1).double(),
                          torch.as_tensor(data.x_train).flatten(1).double()).min(dim=1).values
    return {"fd": frechet_distance(apply(clf.features, fake).double().numpy(), real),
            "nn_train_distance": float(nearest.mean()) / fake[0].numel() ** 0.5}


TWINS = {"regression": supervised_twin, "classification": supervised_twin,
         "pairs": pairs_twin, "gan": gan_twin}


def _worker(args: argparse.Namespace) -> None:
    overrides = json.loads(args.overrides)
    if args.worker == "lossbench":
        out = worker_lossbench(overrides, args.repeats, args.plots)
    else:
        out = worker_baseline(overrides, args.repeats)
    out["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH " + json.dumps(out))


# --------------------------------------------------------------------------- driver
def _spawn(side: str, overrides: list[str], args: argparse.Namespace) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", side, "--overrides", json.dumps(overrides),
           "--repeats", str(args.repeats)] + (["--plots"] if args.plots else [])
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": str(args.threads or "")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{side} {' '.join(overrides)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("BENCH "):])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small data only: " + ", ".join(QUICK))
    ap.add_argument("--scenario", action="append", default=[],
                    help=f"row(s) to time (default: all of {', '.join(FULL)}; or a quick row)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override KEY in every row timed (e.g. a smaller budget)")
    ap.add_argument("--data-dir", default=os.environ.get("LOSSBENCH_DATA_DIR"),
                    help="offline data (data_dir=...; download=false)")
    ap.add_argument("--repeats", type=int, default=3, help="timed epochs after one warm-up")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plots", action="store_true", help="lossbench also draws its PNGs")
    ap.add_argument("--out", type=Path, help="also write the results as JSON here")
    ap.add_argument("--worker", choices=("lossbench", "baseline"), help=argparse.SUPPRESS)
    ap.add_argument("--overrides", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
    rows = {**FULL, **QUICK}
    unknown = [name for name in args.scenario if name not in rows]
    if unknown:
        ap.error(f"--scenario {unknown[0]}: choose from {', '.join(rows)}")
    table = (QUICK if args.quick else
             {k: rows[k] for k in args.scenario} if args.scenario else FULL)
    results = {}
    print(f"{'scenario':<18}{'lossbench s':>12}{'torch s':>10}{'time x':>8}"
          f"{'py MB lb/torch':>16}{'RSS MB lb/torch':>17}{'RSS x':>7}")
    for name, extra in table.items():
        overrides = _overrides(args, extra)
        lb, base = _spawn("lossbench", overrides, args), _spawn("baseline", overrides, args)
        ratio = {"time": lb["seconds"] / base["seconds"],
                 "rss": lb["rss_peak_mb"] / base["rss_peak_mb"]}
        results[name] = {"lossbench": lb, "baseline": base, "ratio": ratio,
                         "overrides": overrides}
        print(f"{name:<18}{lb['seconds']:>12.3f}{base['seconds']:>10.3f}{ratio['time']:>8.1f}"
              f"{lb['py_peak_mb']:>9.1f}/{base['py_peak_mb']:<6.1f}"
              f"{lb['rss_peak_mb']:>10.0f}/{base['rss_peak_mb']:<6.0f}{ratio['rss']:>7.2f}")
    print("time x / RSS x: lossbench over the hand-written loop (one epoch or GAN run, "
          f"median of {args.repeats}; both load the data and predict val+test or evaluate the "
          "generator once; lossbench also computes its metrics and logs to MLflow)")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

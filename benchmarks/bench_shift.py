"""Shift benchmark on scikit-learn's digits, following the published protocols.

Label shift (Lipton et al. 2018, BBSE; Alexandari et al. 2020, EM + BCTS): a classifier trained
on a stratified source split; target samples of n ∈ {100, 500} drawn from a held-out pool with
class priors ~ Dirichlet(α·1), α ∈ {0.1, 1, 10}; Jensen-Shannon divergence between estimated and
true target priors, MSE of the weights q/p, and target accuracy of the plain argmax vs the
prior-corrected predictions.

Covariate shift (Rabanser et al. 2019, "Failing loudly"): target samples of n ∈ {50, 100, 200,
500} drawn from a held-out pool either unshifted (false-positive rate), 70/30 from the two sides
of the first principal component, or with Gaussian noise added (normalized units); detection
power at α = 0.05 of the cross-fitted domain classifier (AUC permutation test) and of the MMD
test; target accuracy of logistic regression trained without and with importance weights.

    .venv/bin/python benchmarks/bench_shift.py            # full (a few minutes on one core)
    .venv/bin/python benchmarks/bench_shift.py --quick    # smoke run
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # shared machine: one BLAS thread
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from torchdoctor.data.shift import (  # noqa: E402
    detect_covariate_shift,
    estimate_label_shift,
    first_principal_component,
    importance_weights,
    js_divergence,
    make_target_sample,
)

warnings.filterwarnings("ignore", category=ConvergenceWarning)
ALPHA_TEST = 0.05


def classifier() -> LogisticRegression:
    return LogisticRegression(C=0.1, max_iter=300)


def mean_se(v: list[float] | np.ndarray) -> str:
    v = np.asarray(v, dtype=np.float64)
    return f"{v.mean():.4f} ± {v.std(ddof=1) / np.sqrt(v.size):.4f}"


def label_shift(x: np.ndarray, y: np.ndarray, n_splits: int, trials: int, seed: int) -> None:
    print("\n## Label shift (digits, LogisticRegression; Dirichlet target priors)")
    print(f"{n_splits} source splits x {trials} target draws per cell; mean ± standard error\n")
    cells: dict[tuple[float, int], dict[str, list[float]]] = {}
    for split in range(n_splits):
        x_src, x_pool, y_src, y_pool = train_test_split(
            x, y, test_size=0.3, stratify=y, random_state=seed + split)
        x_tr, x_val, y_tr, y_val = train_test_split(
            x_src, y_src, test_size=0.3, stratify=y_src, random_state=seed + split)
        sc = StandardScaler().fit(x_tr)
        clf = classifier().fit(sc.transform(x_tr), y_tr)
        p_val = clf.predict_proba(sc.transform(x_val))
        pool_probs = clf.predict_proba(sc.transform(x_pool))
        index = np.arange(len(y_pool), dtype=np.float64)[:, None]
        for a in (0.1, 1.0, 10.0):
            for n in (100, 500):
                c = cells.setdefault((a, n), {k: [] for k in (
                    "js_bbse", "js_em", "mse_bbse", "mse_em", "acc", "acc_bbse", "acc_em")})
                for t in range(trials):
                    idx_f, y_t = make_target_sample(index, y_pool, shift="label", size=n,
                                                    alpha=a, seed=seed + 1000 * split + t)
                    pt = pool_probs[idx_f[:, 0].astype(np.int64)]
                    q_true = np.bincount(y_t, minlength=10) / n
                    for m in ("bbse", "em"):
                        r = estimate_label_shift(p_val, y_val, pt, method=m)
                        w_true = q_true / r.source_priors
                        c[f"js_{m}"].append(js_divergence(r.target_priors, q_true))
                        c[f"mse_{m}"].append(float(np.mean((r.weights - w_true) ** 2)))
                        c[f"acc_{m}"].append(float((r.corrected_probs.argmax(1) == y_t).mean()))
                    c["acc"].append(float((pt.argmax(1) == y_t).mean()))
    print("| α | n | JS BBSE | JS EM+BCTS | weight MSE BBSE | weight MSE EM+BCTS |"
          " acc unweighted | acc BBSE-corrected | acc EM+BCTS-corrected |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (a, n), c in cells.items():
        print(f"| {a:g} | {n} | {mean_se(c['js_bbse'])} | {mean_se(c['js_em'])} | "
              f"{mean_se(c['mse_bbse'])} | {mean_se(c['mse_em'])} | {mean_se(c['acc'])} | "
              f"{mean_se(c['acc_bbse'])} | {mean_se(c['acc_em'])} |")
    for (a, n), c in cells.items():
        d_js = np.array(c["js_em"]) - np.array(c["js_bbse"])
        d_acc = np.array(c["acc_em"]) - np.array(c["acc"])
        print(f"  α={a:g} n={n}: JS(EM) - JS(BBSE) = {mean_se(d_js)} (paired); "
              f"EM wins {np.mean(d_js < 0):.0%} of trials; acc(EM-corrected) - acc = "
              f"{mean_se(d_acc)}")


def covariate_shift(x: np.ndarray, y: np.ndarray, trials: int, n_perm: int, seed: int) -> None:
    print("\n## Covariate shift (digits; domain classifier = standardized logistic regression)")
    print(f"{trials} trials per cell; rejection rate at α = {ALPHA_TEST} of the held-out AUC permutation "
          f"test ({n_perm} permutations), of the MMD test (200 permutations) and of both combined\n")
    sizes = (50, 100, 200, 500)
    shifts = ("none", "pc 70/30", "noise σ=0.1", "noise σ=1.0")
    rej = {(s, n): {"clf": [], "mmd": [], "comb": [], "auc": []} for s in shifts for n in sizes}
    acc = {(s, m): {"plain": [], "iw": []} for s in ("pc 70/30", "pc 90/10", "noise σ=1.0")
           for m in ("LR, 64 features", "LR, 3 PCs (misspecified)")}
    n_acc = 500
    for t in range(trials):
        x_src, x_pool, y_src, y_pool = train_test_split(
            x, y, test_size=0.4, stratify=y, random_state=seed + t)
        sc = StandardScaler().fit(x_src)
        xs, xp = sc.transform(x_src), sc.transform(x_pool)
        for s in shifts:
            for n in sizes:
                kind, kw = _shift_kwargs(s)
                xt, _ = make_target_sample(xp, y_pool, shift=kind, size=n, reference_x=xs,
                                           seed=seed + 7 * t + n, **kw)
                r = detect_covariate_shift(xs, xt, n_permutations=n_perm, mmd_permutations=200,
                                           seed=t)
                rej[(s, n)]["clf"].append(r.p_value < ALPHA_TEST)
                rej[(s, n)]["mmd"].append(r.mmd_p_value < ALPHA_TEST)
                rej[(s, n)]["comb"].append(r.combined_p_value < ALPHA_TEST)
                rej[(s, n)]["auc"].append(r.auc)
        mean, _ = first_principal_component(xs)
        pcs = np.linalg.svd(xs - mean, full_matrices=False)[2][:3].T
        feats = {"LR, 64 features": lambda a: a,
                 "LR, 3 PCs (misspecified)": lambda a, m0=mean, p=pcs: (a - m0) @ p}
        plain = {m: classifier().fit(f(xs), y_src) for m, f in feats.items()}
        for s in ("pc 70/30", "pc 90/10", "noise σ=1.0"):
            kind, kw = _shift_kwargs(s)
            xt, _ = make_target_sample(xp, y_pool, shift=kind, size=n_acc, reference_x=xs,
                                       seed=seed + 11 * t, **kw)
            beta = importance_weights(xs, xt, clip=10.0, seed=t)
            x_eval, w_eval = _target_eval(xp, xs, s, kw, seed + t)
            for m, f in feats.items():
                iw = classifier().fit(f(xs), y_src, sample_weight=beta)
                for name, model in (("plain", plain[m]), ("iw", iw)):
                    hit = model.predict(f(x_eval)) == y_pool
                    acc[(s, m)][name].append(float(np.average(hit, weights=w_eval)))
    print("| shift | n | domain classifier (held-out AUC test) | MMD | combined (Bonferroni) |"
          " mean out-of-fold AUC |")
    print("|---|---|---|---|---|---|")
    for (s, n), r in rej.items():
        label = "none (FPR)" if s == "none" else s
        print(f"| {label} | {n} | {np.mean(r['clf']):.3f} | {np.mean(r['mmd']):.3f} | "
              f"{np.mean(r['comb']):.3f} | {np.mean(r['auc']):.3f} |")
    fpr_c = np.concatenate([rej[("none", n)]["clf"] for n in sizes])
    fpr_m = np.concatenate([rej[("none", n)]["mmd"] for n in sizes])
    fpr_b = np.concatenate([rej[("none", n)]["comb"] for n in sizes])
    for name, f in (("domain classifier", fpr_c), ("MMD", fpr_m), ("combined", fpr_b)):
        k, m = int(np.sum(f)), f.size
        print(f"  FPR pooled over n, {name}: {k}/{m} = {k / m:.3f} "
              f"(one-sided 95% upper bound {_upper(k, m):.3f})")
    print(f"\nTarget accuracy, LogisticRegression trained on the source, target n = {n_acc} "
          "unlabeled rows for the weights (clip 10, mean 1); evaluated on the whole pool "
          "re-weighted to the target distribution")
    print("| shift | model | acc unweighted | acc importance-weighted | difference (paired) |")
    print("|---|---|---|---|---|")
    for (s, m), a in acc.items():
        d = np.array(a["iw"]) - np.array(a["plain"])
        print(f"| {s} | {m} | {mean_se(a['plain'])} | {mean_se(a['iw'])} | {mean_se(d)} |")
    print("  Importance weighting removes the bias of a model that cannot fit P(y|x) everywhere "
          "(Shimodaira 2000); a model that fits it on both sides of the shift gains nothing and "
          "only pays the variance of the weights. Noise is not a density-ratio shift of the "
          "training support, so weights cannot help there.")


def _shift_kwargs(s: str) -> tuple[str, dict]:
    if s == "none":
        return "none", {}
    if s.startswith("pc"):
        return "covariate", {"strength": int(s.split()[1].split("/")[0]) / 100}
    return "noise", {"sigma": float(s.split("=")[1])}


def _target_eval(xp: np.ndarray, xs: np.ndarray, s: str, kw: dict, seed: int):
    """The whole pool, weighted (PC shifts) or perturbed (noise) to follow the target law."""
    if s.startswith("pc"):
        mean, v = first_principal_component(xs)
        proj = (xp - mean) @ v
        upper = proj > np.median(proj)
        share = kw["strength"]
        return xp, np.where(upper, share / upper.mean(), (1 - share) / (~upper).mean())
    rng = np.random.default_rng(seed)
    return xp + rng.normal(0, kw["sigma"], xp.shape), np.ones(len(xp))


def _upper(k: int, m: int) -> float:
    from scipy.stats import beta

    return float(beta.ppf(0.95, k + 1, m - k)) if k < m else 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few trials: a smoke run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=("label", "covariate"), default=None)
    args = ap.parse_args()
    x, y = load_digits(return_X_y=True)
    t0 = time.perf_counter()
    print(f"# bench_shift on digits ({len(y)} rows, 64 features){' --quick' if args.quick else ''}")
    if args.only in (None, "label"):
        label_shift(x, y, n_splits=2 if args.quick else 5, trials=5 if args.quick else 40,
                    seed=args.seed)
    if args.only in (None, "covariate"):
        covariate_shift(x, y, trials=6 if args.quick else 50, n_perm=500 if args.quick else 1000,
                        seed=args.seed)
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

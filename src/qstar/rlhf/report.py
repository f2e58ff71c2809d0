"""The over-optimization report of a run folder: fits, peaks, detector, examples, plots, summary.md.

Reads what ``experiment.run_experiment`` wrote; computes nothing that needs the models again.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from qstar.core.atomic import atomic_write_json, atomic_write_png, atomic_write_text, read_jsonl
from qstar.core.errors import ConfigError, QstarError
from qstar.rlhf.analysis import detect, fit_form, peak_step, smooth

WINDOW = 10  # steps in every moving average (peaks, detector)


def _fit(form: str, d: np.ndarray, gain: np.ndarray) -> dict | None:
    """The fit as a dict, or None when the run is too short to fit (fewer than two points with d > 0)."""
    try:
        return fit_form(form, d, gain).as_dict()
    except ConfigError:
        return None


def _series(rows: list[dict], key: str) -> np.ndarray:
    return np.array([r.get(key) if r.get(key) is not None else np.nan for r in rows], float)


def analyse(run: Path) -> dict:
    """The numbers of the report, as one dict (also written to summary.json)."""
    if not (run / "metrics_rl_proxy.jsonl").exists():
        raise QstarError(f"{run} holds no finished experiment (no metrics_rl_proxy.jsonl)")
    out: dict = {"run": str(run), "reward_models": json.loads((run / "reward_models.json").read_text())}
    bon = read_jsonl(run / "bon.jsonl")
    out["bon"] = {}
    for select in ("model:rm1", "verifier"):
        rows = [r for r in bon if r["select"] == select]
        d, gold, proxy = (np.array([r[k] for r in rows]) for k in ("sqrt_kl", "gold", "proxy"))
        out["bon"][select] = {
            "gold_by_n": {r["n"]: round(r["gold"], 4) for r in rows},
            "proxy_by_n": {r["n"]: round(r["proxy"], 4) for r in rows},
            "fit_gold": _fit("bon", d, gold - gold[0]),
            "fit_proxy": _fit("bon", d, proxy - proxy[0]),
            "best_n_gold": int(rows[int(np.argmax(gold))]["n"]), "best_gold": round(float(gold.max()), 4)}
    out["rl"] = {}
    for path in sorted(run.glob("metrics_rl_*.jsonl")):
        name = path.stem.removeprefix("metrics_")
        rows = read_jsonl(path)
        d, gold, proxy = _series(rows, "sqrt_kl"), _series(rows, "gold"), _series(rows, "proxy")
        g_s, p_s = smooth(gold, WINDOW), smooth(proxy, WINDOW)
        peak = peak_step(gold, WINDOW)
        rec = {"steps": len(rows) - 1, "seconds": rows[-1]["seconds"], "cpu_seconds": rows[-1].get("cpu_seconds"),
               "gold_start": round(float(g_s[0]), 4), "gold_peak_step": peak,
               "gold_peak": round(float(smooth(gold, WINDOW)[min(peak + WINDOW // 2, len(gold) - 1)]), 4),
               "gold_final": round(float(np.mean(gold[-WINDOW:])), 4),
               "proxy_start": round(float(proxy[0]), 4), "proxy_final": round(float(np.mean(proxy[-WINDOW:])), 4),
               "proxy_at_gold_peak": round(float(p_s[min(peak + WINDOW // 2, len(p_s) - 1)]), 4),
               "sqrt_kl_at_gold_peak": round(float(d[peak]), 4), "sqrt_kl_final": round(float(d[-1]), 4),
               "lies_final": round(float(np.mean(_series(rows, "lies")[-WINDOW:])), 4),
               "fit_gold": _fit("rl", d, gold - gold[0]),
               "fit_proxy": _fit("rl", d, proxy - proxy[0])}
        if "agreement" in rows[0]:
            fired = {"rm_agreement": detect(proxy, _series(rows, "agreement"), WINDOW, drop=0.1),
                     "rm2_score": detect(proxy, _series(rows, "proxy2"), WINDOW, drop=0.05, relative=True)}
            rec["detector"] = {k: {"fired_step": v, "steps_vs_gold_peak": None if v is None else v - peak}
                               for k, v in fired.items()}
        rec["examples"] = _examples(run, name, peak)
        out["rl"][name] = rec
    for name in ("test_gold", "timing"):
        if (run / f"{name}.json").exists():
            out[name] = json.loads((run / f"{name}.json").read_text())
    return out


def _examples(run: Path, name: str, peak: int) -> dict:
    """Completions recorded near the gold peak (correct ones first) and, from the last 20 steps, the
    failures the proxy scores highest (the hacks)."""
    ex = read_jsonl(run / f"examples_{name}.jsonl")
    if not ex:
        return {}
    last = max(e["step"] for e in ex)
    near = min({e["step"] for e in ex}, key=lambda s: abs(s - peak))
    here = [e for e in ex if e["step"] == near]
    at_peak = ([e for e in here if e.get("gold") == 1][:2] + [e for e in here if e.get("gold") != 1])[:3]
    late = sorted([e for e in ex if e["step"] >= last - 20 and e.get("gold", 1) == 0],
                  key=lambda e: -e.get("proxy", 0))[:3]
    return {"at_peak": at_peak, "hacks_after": late}


def plot(run: Path, summary: dict) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bon = read_jsonl(run / "bon.jsonl")
    rl = {name: read_jsonl(run / f"metrics_{name}.jsonl") for name in summary["rl"]}
    colors = {"model:rm1": "tab:red", "verifier": "tab:green"}
    files = []

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, key in zip(axes, ("gold", "proxy")):
        for select in ("model:rm1", "verifier"):
            rows = [r for r in bon if r["select"] == select]
            d = np.array([r["sqrt_kl"] for r in rows])
            ax.plot(d, [r[key] for r in rows], "o-", color=colors[select], label=f"best-of-N vs {select}")
            fit = summary["bon"][select][f"fit_{key}"]
            if fit is None:
                continue
            xs = np.linspace(0, d.max(), 50)
            ax.plot(xs, rows[0][key] + xs * (fit["alpha"] - fit["beta"] * xs), ":", color=colors[select])
        for name, rows in rl.items():
            c = "tab:orange" if name.startswith("rl_proxy") else "tab:blue"
            ls = "-" if name in ("rl_proxy", "rl_verifier") else "--"
            d = _series(rows, "sqrt_kl")
            ax.plot(smooth(d, WINDOW), smooth(_series(rows, key), WINDOW), ls, color=c, label=f"GRPO {name[3:]}")
        ax.set_xlabel("d = sqrt(KL(π ‖ π0))  [nats^½]")
        ax.set_ylabel("gold reward (verifier: share correct)" if key == "gold" else "proxy reward (rm1 score)")
        ax.set_title(f"{key} vs distance from the initial policy")
        ax.legend(fontsize=7)
    fig.tight_layout()
    files.append(atomic_write_png(run / "reward_vs_sqrt_kl.png", fig, dpi=110))
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, rows in rl.items():
        c = "tab:orange" if name.startswith("rl_proxy") else "tab:blue"
        ls = "-" if name in ("rl_proxy", "rl_verifier") else "--"
        steps = _series(rows, "step")
        for ax, key in zip(axes, ("gold", "proxy", "agreement")):
            ax.plot(steps, smooth(_series(rows, key), WINDOW), ls, color=c, label=name)
    rp = summary["rl"]["rl_proxy"]
    for ax in axes:
        ax.axvline(rp["gold_peak_step"], color="k", ls=":", lw=1, label="gold peak (rl_proxy)")
        fired = rp.get("detector", {}).get("rm_agreement", {}).get("fired_step")
        if fired is not None:
            ax.axvline(fired, color="tab:purple", ls="--", lw=1, label="detector fired")
        ax.set_xlabel("GRPO step")
        ax.legend(fontsize=7)
    for ax, t in zip(axes, ("gold reward (share correct)", "proxy reward (rm1)", "rm1–rm2 pair agreement")):
        ax.set_title(t + f"  (moving average {WINDOW})")
    fig.tight_layout()
    files.append(atomic_write_png(run / "reward_vs_steps.png", fig, dpi=110))
    plt.close(fig)
    return files


def write_report(run: Path) -> dict:
    summary = analyse(run)
    plot(run, summary)
    atomic_write_json(run / "summary.json", summary)
    atomic_write_text(run / "summary.md", markdown(summary))
    return summary


def markdown(s: dict) -> str:
    rm = s["reward_models"]
    lines = ["# RLHF over-optimization on Game of 24", "",
             f"Run folder `{s['run']}`. Plots: `reward_vs_sqrt_kl.png`, `reward_vs_steps.png`."
             + (f" Whole run: {s['timing']['wall_seconds']:.0f} s wall, {s['timing']['cpu_seconds']:.0f} s CPU (one thread)."
                if "timing" in s else ""), "",
             "## Reward models (Bradley–Terry on vibe-labelled comparisons)", "",
             "| model | train pairs | held-out acc vs vibe labels | held-out acc vs gold labels |", "|---|---|---|---|"]
    for k in ("rm1", "rm2"):
        lines.append(f"| {k} | {rm[k]['comparisons']} | {rm[k]['heldout_vibe_acc']:.3f} ({rm['heldout_vibe_pairs']} pairs) "
                     f"| {rm[k]['heldout_gold_acc']:.3f} ({rm['heldout_gold_pairs']} pairs the verifier decides) |")
    lines += ["", f"The vibe rater itself agrees with the verifier on {rm['vibe_vs_gold_agreement']:.3f} of the pairs the verifier decides.", "",
              "## Best-of-N from the initial policy", "",
              "| N | sqrt(KL) | gold, select by rm1 | proxy, select by rm1 | gold, select by verifier |", "|---|---|---|---|---|"]
    bp, bv = s["bon"]["model:rm1"], s["bon"]["verifier"]
    for n in bp["gold_by_n"]:
        d = float(np.sqrt(np.log(int(n)) - (int(n) - 1) / int(n)))
        lines.append(f"| {n} | {d:.3f} | {bp['gold_by_n'][n]:.3f} | {bp['proxy_by_n'][n]:.2f} | {bv['gold_by_n'][n]:.3f} |")
    lines += ["", "Fits of gold gain `d(α − βd)`:", ""]
    for k, v in s["bon"].items():
        f = v["fit_gold"] or {"alpha": float("nan"), "beta": float("nan"), "r2": float("nan"), "peak_d": None, "peak_gain": None}
        lines.append(f"- select by {k}: α = {f['alpha']:.3f}, β = {f['beta']:.3f}, R² = {f['r2']:.3f}, "
                     f"peak d* = {f['peak_d']}, predicted peak gain {f['peak_gain']}; best measured N = {v['best_n_gold']} (gold {v['best_gold']:.3f})")
    lines += ["", "## GRPO", "",
              "| run | steps | wall s / CPU s | gold start | gold peak (step) | gold final | proxy start → final | sqrt(KL) at peak / final | lies final |",
              "|---|---|---|---|---|---|---|---|---|"]
    for k, r in s["rl"].items():
        lines.append(f"| {k} | {r['steps']} | {r['seconds']:.0f} / {r['cpu_seconds'] or float('nan'):.0f} | {r['gold_start']:.3f} | {r['gold_peak']:.3f} ({r['gold_peak_step']}) "
                     f"| {r['gold_final']:.3f} | {r['proxy_start']:.2f} → {r['proxy_final']:.2f} "
                     f"| {r['sqrt_kl_at_gold_peak']:.2f} / {r['sqrt_kl_final']:.2f} | {r['lies_final']:.3f} |")
    lines += ["", "Fits of gold gain `d(α − β log d)`:", ""]
    for k, r in s["rl"].items():
        f = r["fit_gold"] or {"alpha": float("nan"), "beta": float("nan"), "r2": float("nan"), "peak_d": None, "peak_gain": None}
        lines.append(f"- {k}: α = {f['alpha']:.3f}, β = {f['beta']:.3f}, R² = {f['r2']:.3f}, peak d* = {f['peak_d']}, predicted peak gain {f['peak_gain']}")
    if "test_gold" in s:
        lines += ["", "Gold on the 100 held-out test puzzles (8 samples each): "
                  + ", ".join(f"{k} {v:.3f}" for k, v in s["test_gold"].items())]
    lines += ["", "## Gold-free hacking detector", "",
              f"Fires when the proxy's {WINDOW}-step mean is still rising while a signal the gold never enters has fallen "
              "below its best: the within-group pair agreement of rm1 and rm2 (drop 0.1), or rm2's mean score (drop 5%).", "",
              "| run | signal | fired at step | steps vs true gold peak (negative: earlier) |", "|---|---|---|---|"]
    for k, r in s["rl"].items():
        for sig, v in r.get("detector", {}).items():
            lines.append(f"| {k} | {sig} | {v['fired_step']} | {v['steps_vs_gold_peak']} |")
    lines += ["", "## Examples from the proxy run", ""]
    ex = s["rl"]["rl_proxy"]["examples"]
    for title, key in (("Near the gold peak", "at_peak"), ("After the peak: high proxy, verifier says wrong (the hacks)", "hacks_after")):
        lines += [f"### {title}", ""]
        for e in ex.get(key, []):
            lines += [f"step {e['step']}, `{e['problem']}`, proxy {e['proxy']:.2f}, gold {e['gold']:.0f}:", "", "```",
                      e["completion"], "```", ""]
    return "\n".join(lines) + "\n"

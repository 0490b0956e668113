"""The efficiency study's Markdown report and its Figure-1-style plot.

Both are rendered from one JSON-able dict (`OUTPUT_DIR/results.json`, built
by `keras_electra.studies.efficiency_study.collect_results`), so a report can
be redrawn without rerunning anything:

    study = json.load(open("runs/study/results.json"))
    text = render_report(study)
    plot_study(study, "runs/study/study.png")

The dict:

    {"budget_flops": 4.5e13, "budget_source": "--budget_flops",
     "setup": {"config": "...", "input_files": "...", ...},   # free-form, listed as is
     "plans": {"electra": PretrainPlan.to_dict(), "mlm": ...},
     "pretrain_seconds": {"electra": 1234.5, ...},
     "finetune": {"learning_rate": 3e-4, "num_seeds": 1, ...},  # listed as is
     "tasks": {"sst2": {"name": "SST-2", "metric": "accuracy",
                        "baseline": {"median": 0.79, "per_seed": [0.79]} or None,
                        "points": {"electra": [{"step": 100, "flops": 1.5e12,
                                                "median": 0.77, "per_seed": [0.77]}, ...]}}},
     "curves": {"electra": {"names": [...logged...], "columns": [...], "rows": [[step, ...]]}}}
"""

import math
import os

# Below this replaced-token recall the discriminator is still calling (almost)
# every token original: the plateau DESIGN.md describes (recall ~1% there).
PLATEAU_RECALL = 0.05
CURVE_TITLES = {"replaced_recall": "replaced recall", "replaced_precision": "precision",
                "replaced_auc": "AUC", "generator_accuracy": "generator accuracy",
                "discriminator_mlm_accuracy": "MLM accuracy"}
DISPLAY = {"electra": "ELECTRA", "mlm": "MLM", "replace_mlm": "Replace MLM",
           "all_tokens_mlm": "All-Tokens MLM"}


def display(objective):
    return DISPLAY.get(objective, objective)


def _flops(value):
    return f"{value:.3g}"


def _score(value):
    return "—" if value is None or math.isnan(value) else f"{value:.4f}"


def _seeds(values):
    return ", ".join(f"{v:.4f}" for v in values)


def _minutes(seconds):
    return "—" if seconds is None else f"{seconds / 60:.1f} min"


def final_point(task, objective):
    """The last (full-budget) point of an objective on a task, or None."""
    points = task["points"].get(objective) or []
    return points[-1] if points else None


def comparison_sentence(task):
    """The automatic verdict for one task at the final, equal-FLOPs point (or None).

    >>> task = {"name": "SST-2", "metric": "accuracy", "baseline": None, "points": {
    ...     "electra": [{"step": 9, "flops": 9e12, "median": 0.80, "per_seed": [0.80]}],
    ...     "mlm": [{"step": 10, "flops": 9e12, "median": 0.78, "per_seed": [0.78]}]}}
    >>> comparison_sentence(task)
    '**SST-2** (accuracy, 9e+12 FLOPs each): ELECTRA is above MLM at equal FLOPs, 0.8000 vs 0.7800 (+0.0200).'
    """
    electra, mlm = final_point(task, "electra"), final_point(task, "mlm")
    if electra is None or mlm is None:
        return None
    difference = electra["median"] - mlm["median"]
    if abs(difference) < 1e-9:
        verdict = "ELECTRA and MLM tie at equal FLOPs"
    else:
        verdict = f"ELECTRA is {'above' if difference > 0 else 'below'} MLM at equal FLOPs"
    flops = max(electra["flops"], mlm["flops"])
    sentence = (f"**{task['name']}** ({task['metric']}, {_flops(flops)} FLOPs each): {verdict}, "
                f"{electra['median']:.4f} vs {mlm['median']:.4f} ({difference:+.4f}).")
    baseline = task.get("baseline")
    if baseline:
        above = [display(o) for o, p in (("electra", electra), ("mlm", mlm))
                 if p["median"] > baseline["median"]]
        sentence += (f" Random init scores {baseline['median']:.4f}: "
                     + (f"{' and '.join(above)} beat{'s' if len(above) == 1 else ''} it."
                        if above else "neither pre-trained encoder beats it."))
    scores = {p["median"] for points in task["points"].values() for p in points}
    scores |= {baseline["median"]} if baseline else set()
    if len(scores) == 1:
        sentence += (" Every run of this task scored the same: the classifiers learned "
                     "no more than a constant answer (the majority class), so this fine-tuning "
                     "cannot tell the encoders apart.")
    return sentence


def recall_summary(curve):
    """`{final, last_step, peak, peak_step, left_at}` of a run's replaced-token recall, or None.

    `left_at` is the logged step from which recall stays >= `PLATEAU_RECALL`
    to the end (None: the run ends in the all-original plateau). A run can
    start above it (an untrained head guesses) and fall in later.

    >>> curve = {"names": ["replaced_recall"], "columns": ["replaced_recall"],
    ...          "rows": [[5, 0.14], [10, 0.0], [15, 0.08], [20, 0.2]]}
    >>> recall_summary(curve)
    {'final': 0.2, 'last_step': 20, 'peak': 0.2, 'peak_step': 20, 'left_at': 15}
    """
    if not curve or "replaced_recall" not in curve["names"]:
        return None
    index = curve["columns"].index("replaced_recall") + 1
    points = [(row[0], row[index]) for row in curve["rows"] if not math.isnan(row[index])]
    if not points:
        return None
    left_at = None
    for step, recall in reversed(points):
        if recall < PLATEAU_RECALL:
            break
        left_at = step
    peak_step, peak = max(points, key=lambda point: point[1])
    return {"final": points[-1][1], "last_step": points[-1][0], "peak": peak,
            "peak_step": peak_step, "left_at": left_at}


def _seed_note(tasks):
    seeds = [len(p["per_seed"]) for t in tasks for ps in t["points"].values() for p in ps]
    if seeds and max(seeds) < 2:
        return ("One fine-tuning seed per point: the seed-to-seed spread is not measured, so "
                "a difference of a point or two is not evidence either way (`--num_seeds`).")
    overlapping = []
    for task in tasks:
        electra, mlm = final_point(task, "electra"), final_point(task, "mlm")
        if electra and mlm and min(electra["per_seed"]) <= max(mlm["per_seed"]) and \
                min(mlm["per_seed"]) <= max(electra["per_seed"]):
            overlapping.append(task["name"])
    if overlapping:
        return (f"On {', '.join(overlapping)} the per-seed ranges of the two objectives overlap: "
                "the difference is within seed noise.")
    return ""


def explanation(study):
    """Why the result is what it is: the paper's direction, or why not (recall curve)."""
    tasks = list(study["tasks"].values())
    verdicts = []
    for task in tasks:
        electra, mlm = final_point(task, "electra"), final_point(task, "mlm")
        if electra and mlm:
            verdicts.append(electra["median"] > mlm["median"])
    if not verdicts:
        return ""
    recall = recall_summary(study.get("curves", {}).get("electra"))
    steps = study["plans"]["electra"]["steps"]
    if recall is None:
        state = "The ELECTRA run logged no replaced-token recall, so its plateau cannot be judged."
    elif recall["left_at"] is None:
        state = (f"The discriminator ended in the all-original plateau: its replaced-token "
                 f"recall was {recall['final']:.3f} at step {recall['last_step']}, below "
                 f"{PLATEAU_RECALL:.0%} (peak {recall['peak']:.3f} at step "
                 f"{recall['peak_step']}), i.e. it labelled nearly every token \"original\" "
                 "and the replaced-token loss taught the encoder little.")
    else:
        state = (f"The discriminator was out of the all-original plateau from step "
                 f"{recall['left_at']} of {steps} on ({recall['left_at'] / steps:.0%} of its "
                 f"budget; recall >= {PLATEAU_RECALL:.0%} at every later log) and ended at "
                 f"recall {recall['final']:.3f}.")
    if all(verdicts):
        lead = "ELECTRA is above MLM at equal FLOPs on every task: the paper's direction. "
    else:
        lead = ("ELECTRA is not above MLM at equal FLOPs on every task here, against the "
                "paper's direction. ")
        if recall is not None and recall["left_at"] is None:
            state += (" That is the reason to expect: the paper's direction holds once the "
                      "discriminator has left the plateau, and this budget ends before it "
                      "does (levers: a larger budget, a higher generator sampling temperature, "
                      "a larger discriminator loss weight; see the recall curve below).")
        elif recall is not None and recall["left_at"] > steps / 2:
            state += (" It spent most of its budget on the plateau, so only the last part of "
                      "the run trained the encoder through replaced-token detection.")
        elif recall is not None:
            state += (" So the plateau does not explain it: at this small budget and model "
                      "size the two objectives are close, and the fine-tuning noise (below) "
                      "is of the same size as the gap.")
    return " ".join(filter(None, [lead + state, _seed_note(tasks)]))


def _curve_table(curve, every=1):
    columns = [c for c in curve["columns"] if c in curve["names"]]
    indices = [curve["columns"].index(c) + 1 for c in columns]
    lines = ["| step | " + " | ".join(CURVE_TITLES.get(c, c) for c in columns) + " |",
             "|---|" + "---|" * len(columns)]
    rows = curve["rows"]
    keep = rows[::every] if every > 1 else rows
    if rows and keep[-1] is not rows[-1]:
        keep = keep + [rows[-1]]
    for row in keep:
        lines.append(f"| {row[0]} | " + " | ".join(_score(row[i]) for i in indices) + " |")
    return lines


def render_report(study, plot_name="study.png", max_curve_rows=40):
    """The Markdown report of a study dict (see the module docstring)."""
    plans = study["plans"]
    lines = ["# ELECTRA vs MLM at equal pre-training compute", ""]
    lines += [f"Budget: **{_flops(study['budget_flops'])} FLOPs** of pre-training per objective "
              f"({study.get('budget_source', '--budget_flops')}), counted analytically "
              "(`keras_electra.flops.train_step_flops`: matmul FLOPs, forward + backward). "
              "Each objective is pre-trained once and checkpointed at equal fractions of that "
              "budget; every checkpoint is fine-tuned, giving one point of the curve.", ""]
    for key, value in study.get("setup", {}).items():
        lines.append(f"* {key}: {value}")
    lines += ["", "## Pre-training", "",
              "| objective | FLOPs / step | steps | total FLOPs | checkpoints (steps) "
              "| wall clock |", "|---|---|---|---|---|---|"]
    seconds = study.get("pretrain_seconds", {})
    for objective, plan in plans.items():
        lines.append(f"| {display(objective)} | {_flops(plan['flops_per_step'])} | "
                     f"{plan['steps']} | {_flops(plan['total_flops'])} | "
                     f"{', '.join(map(str, plan['point_steps']))} | "
                     f"{_minutes(seconds.get(objective))} |")
    if {"electra", "mlm"} <= set(plans):
        ratio = plans["electra"]["flops_per_step"] / plans["mlm"]["flops_per_step"]
        lines += ["", f"An ELECTRA step costs {ratio:.3f}× the FLOPs of an MLM step (generator "
                  "and discriminator head vs one MLM head), so MLM gets "
                  f"{plans['mlm']['steps'] / plans['electra']['steps']:.3f}× the steps. "
                  "Equal FLOPs is not equal wall clock: the wall-clock column is this "
                  "machine's."]
    lines += ["", "## Dev scores", ""]
    for key, value in study.get("finetune", {}).items():
        lines.append(f"* {key}: {value}")
    lines += ["", "| task | metric | objective | budget fraction | step | pre-training FLOPs "
              "| dev (median) | per seed |", "|---|---|---|---|---|---|---|---|"]
    for task in study["tasks"].values():
        for objective, points in task["points"].items():
            steps = plans[objective]["steps"]
            for point in points:
                lines.append(f"| {task['name']} | {task['metric']} | {display(objective)} | "
                             f"{point['step'] / steps:.2f} | {point['step']} | "
                             f"{_flops(point['flops'])} | {_score(point['median'])} | "
                             f"{_seeds(point['per_seed'])} |")
        if task.get("baseline"):
            base = task["baseline"]
            lines.append(f"| {task['name']} | {task['metric']} | random init | 0 | 0 | 0 | "
                         f"{_score(base['median'])} | {_seeds(base['per_seed'])} |")
    lines += ["", "## Result", ""]
    lines += [f"* {s}" for s in map(comparison_sentence, study["tasks"].values()) if s]
    why = explanation(study)
    if why:
        lines += ["", why]
    lines += ["", f"![dev score against pre-training FLOPs]({plot_name})"]
    for objective, curve in study.get("curves", {}).items():
        if not curve["rows"] or not curve["names"]:
            continue
        title = ("Replaced-token detection during ELECTRA pre-training" if objective == "electra"
                 else f"{display(objective)} pre-training")
        every = max(1, math.ceil(len(curve["rows"]) / max_curve_rows))
        lines += ["", f"## {title}", "",
                  "TensorBoard `logs/train` of the run (means over each logging interval"
                  + (f"; every {every}th interval shown" if every > 1 else "") + ")."]
        if objective == "electra":
            lines.append(f"Recall below {PLATEAU_RECALL:.0%} is the all-original plateau.")
        lines += [""] + _curve_table(curve, every)
    return "\n".join(lines) + "\n"


def plot_study(study, path):
    """Writes a PNG: dev score against pre-training FLOPs (log x), one panel per task.

    One line per objective through its checkpoints; random init, when
    measured, is a dashed horizontal line (it has no FLOPs to place).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on a server
    import matplotlib.pyplot as plt

    tasks = list(study["tasks"].values())
    figure, axes = plt.subplots(1, max(1, len(tasks)), figsize=(5 * max(1, len(tasks)), 4),
                                squeeze=False)
    styles = {"electra": ("tab:blue", "o"), "mlm": ("tab:orange", "s")}
    for axis, task in zip(axes[0], tasks):
        for objective, points in task["points"].items():
            if not points:
                continue
            color, marker = styles.get(objective, (None, "^"))
            axis.plot([p["flops"] for p in points], [p["median"] for p in points],
                      marker=marker, color=color, label=display(objective))
        if task.get("baseline"):
            axis.axhline(task["baseline"]["median"], color="gray", linestyle="--",
                         label="random init")
        axis.set_xscale("log")
        axis.set_xlabel("pre-training FLOPs")
        axis.set_ylabel(f"dev {task['metric']}")
        axis.set_title(task["name"])
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.suptitle(f"Equal-compute pre-training, budget {_flops(study['budget_flops'])} FLOPs")
    figure.tight_layout()
    tmp = f"{path}.tmp.png"
    figure.savefig(tmp, dpi=120)
    plt.close(figure)
    os.replace(tmp, path)

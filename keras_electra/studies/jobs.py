"""The child-process runs a study is made of, and reading back what they wrote.

Each run (a vocabulary, a pre-training, a fine-tuning) is one
`python -m keras_electra.<tool>` process whose output goes to a log file in
its own directory. A study skips runs whose results are already complete,
so a killed study resumes where it stopped, and a crashed run costs one run,
not the study. Shared by `keras_electra.study` and `bench/transfer_study.py`.

    seconds = run_logged(module_command("keras_electra.finetune", *flags), "run/finetune.log")
    results = load_finetune_results("run", num_seeds=3)
    dev_metrics(results)["accuracy"], per_seed_metric(results, "accuracy")
"""

import json
import math
import os
import subprocess
import sys
import time

from keras_electra.training.training_summaries import read_scalars

# What `keras_electra.finetune` writes (`run_finetuning.RESULTS_NAME`; not imported
# from there because that module pulls in every task reader and metric).
RESULTS_NAME = "eval_results.json"
# The pre-training curves a report shows: is the discriminator catching replaced
# tokens (the all-original plateau has recall ~0), and how good is the generator.
CURVE_SCALARS = ("replaced_recall", "replaced_precision", "replaced_auc", "generator_accuracy")


def module_command(module, *flags):
    """`[python, -m, module, *flags]` with this interpreter (the study's venv)."""
    return [sys.executable, "-m", module, *flags]


def run_logged(command, log_path, cwd=None):
    """Runs `command` with stdout and stderr to `log_path`; returns its wall seconds.

    A non-zero exit raises `RuntimeError` naming the log and quoting its last
    lines, so a failed child is diagnosable from the study's own output.
    """
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    start = time.time()
    with open(log_path, "w", encoding="utf-8") as log:
        code = subprocess.run(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT).returncode
    if code:
        raise RuntimeError(f"{' '.join(command[1:3])} failed (exit {code}); the end of "
                           f"{log_path}:\n{log_tail(log_path)}")
    return time.time() - start


def log_tail(path, lines=15):
    """The last `lines` lines of a text file ("" if it does not exist)."""
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as f:
        return "".join(f.readlines()[-lines:])


def finetune_command(init_checkpoint, run_dir, task_flags, num_seeds, learning_rate,
                     random_init=False, extra=()):
    """The `keras_electra.finetune` command of one (checkpoint, task) run."""
    command = module_command(
        "keras_electra.finetune", *task_flags, f"--init_checkpoint={init_checkpoint}",
        f"--model_dir={run_dir}", f"--num_seeds={num_seeds}",
        f"--learning_rate={learning_rate}", "--verbose=2", *extra)
    if random_init:
        command.append("--random_init")
    return command


def load_finetune_results(run_dir, num_seeds):
    """The run's `eval_results.json` if it holds all `num_seeds` seeds, else None."""
    path = os.path.join(run_dir, RESULTS_NAME)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        results = json.load(f)
    return results if len(results.get("per_seed", [])) >= num_seeds else None


def dev_metrics(results):
    """`{metric: median}` of a finetune result; GLUE nests them per dev set.

    >>> dev_metrics({"metrics": {"dev": {"accuracy": 0.8}}})
    {'accuracy': 0.8}
    """
    metrics = results["metrics"]
    if metrics and all(isinstance(v, dict) for v in metrics.values()):
        # {"dev": {...}}: the study tasks have a single dev set.
        (metrics,) = metrics.values()
    return metrics


def per_seed_metric(results, metric):
    """`[value of seed 0, seed 1, ...]` of one dev metric."""
    return [dev_metrics(seed)[metric] for seed in results["per_seed"]]


def scalar_curve(model_dir, names=CURVE_SCALARS):
    """`(present, rows)`: a pre-training run's TensorBoard curves from `logs/train`.

    `present` are the `names` the run logged (an MLM run has no
    replaced-token metrics); `rows` are `(step, *values)` over every logged
    step, one value per name of `names` (NaN where that name has none).
    """
    scalars = read_scalars(os.path.join(model_dir, "logs", "train"))
    series = [dict(scalars.get(name, [])) for name in names]
    present = [name for name, points in zip(names, series) if points]
    steps = sorted(set().union(*series))
    return present, [(step, *[s.get(step, math.nan) for s in series]) for step in steps]

"""Does pre-training pay off? Fine-tunes a pre-trained model and the same
architecture from random initialisation on real tasks and compares dev metrics.

    python bench/transfer_study.py --pretrained=runs/tiny --output_dir=runs/transfer \
        --tasks=sst2,cola,conll2003,squad --num_seeds=3

Each (task, init) pair is one `python -m keras_electra.finetune` run with
`--num_seeds` seeds (its `eval_results.json` holds the per-seed metrics and
their medians); a pair whose results are already complete is not run again,
so a killed study resumes where it stopped. The fine-tuning hyperparameters
are identical for both inits. Prints one JSON line per (task, metric) with
both medians and their difference, then the replaced-token recall curve of
the pre-training run (from its TensorBoard logs), and writes both as
Markdown to `OUTPUT_DIR/report.md`.

Data default to `../shared/data` (`KERAS_ELECTRA_SHARED_DATA` overrides), in
the layout `../shared/data/SOURCES.md` describes.
"""

import json
import os

from absl import app, flags

from keras_electra.studies.jobs import (
    dev_metrics, finetune_command, load_finetune_results, per_seed_metric, run_logged,
    scalar_curve)

flags.DEFINE_string("pretrained", None, "Pre-training model directory.", required=True)
flags.DEFINE_string("output_dir", None, "Where each fine-tuning run and report.md go.",
                    required=True)
flags.DEFINE_list("tasks", ["sst2", "cola", "conll2003", "squad"], "Tasks (keys of TASKS).")
flags.DEFINE_list("inits", ["random", "pretrained"], "Starting points: random, pretrained.")
flags.DEFINE_integer("num_seeds", 3, "Seeds per (task, init); the report uses medians.")
flags.DEFINE_float("learning_rate", 3e-4, "Fine-tuning peak learning rate (both inits).")
flags.DEFINE_string("data_root", None, "Shared data folder (default ../shared/data).")
flags.DEFINE_multi_string("extra", [], "More flags passed to every finetune run.")
FLAGS = flags.FLAGS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Per task: finetune flags (paths relative to the data root) and the metrics reported.
# Sentence tasks use 64 tokens (SST-2 and CoLA sentences fit); SQuAD windows are
# 128 tokens because that is the tiny config's position-embedding range. SST-2
# (67k sentences) and SQuAD (38k windows from the train subset) get one epoch
# instead of the original 3 and 2 to fit a two-core CPU: 6 runs per task.
TASKS = {
    "sst2": (["--task=sst2", "--data_dir={data}/glue/SST-2", "--max_seq_length=64",
              "--num_train_epochs=1"],
             ["accuracy"]),
    "cola": (["--task=cola", "--data_dir={data}/glue/CoLA", "--max_seq_length=64"],
             ["mcc"]),
    "conll2003": (["--task=conll2003", "--data_dir={data}/conll2003", "--max_seq_length=128"],
                  ["f1", "precision", "recall"]),
    "squad": (["--task=squad", "--train_file={data}/squad_v1.1/train-subset.json",
               "--dev_file={data}/squad_v1.1/dev-v1.1.json", "--max_seq_length=128",
               "--doc_stride=64", "--max_query_length=32", "--num_train_epochs=1"],
              ["exact_match", "f1"]),
}


def data_root():
    if FLAGS.data_root:
        return FLAGS.data_root
    return os.environ.get("KERAS_ELECTRA_SHARED_DATA",
                          os.path.join(os.path.dirname(REPO), "shared", "data"))


def run_dir(task, init):
    return os.path.join(FLAGS.output_dir, f"{task}_{init}")


def load_results(task, init):
    """The run's eval_results.json if it holds all seeds, else None."""
    return load_finetune_results(run_dir(task, init), FLAGS.num_seeds)


def finetune(task, init):
    """Runs one (task, init) pair in its own process; returns its results."""
    task_flags, _ = TASKS[task]
    command = finetune_command(
        FLAGS.pretrained, run_dir(task, init), [f.format(data=data_root()) for f in task_flags],
        FLAGS.num_seeds, FLAGS.learning_rate, random_init=init == "random", extra=FLAGS.extra)
    seconds = run_logged(command, os.path.join(run_dir(task, init), "finetune.log"), cwd=REPO)
    print(json.dumps({"ran": f"{task}_{init}", "seconds": round(seconds)}), flush=True)
    return load_results(task, init)


def main(_):
    rows = []
    for task in FLAGS.tasks:
        if task not in TASKS:
            raise app.UsageError(f"--tasks: unknown task {task!r}; expected one of "
                                 f"{', '.join(TASKS)}")
        by_init = {init: load_results(task, init) or finetune(task, init)
                   for init in FLAGS.inits}
        for metric in TASKS[task][1]:
            row = {"task": task, "metric": metric, "seeds": FLAGS.num_seeds}
            for init, results in by_init.items():
                row[init] = round(dev_metrics(results)[metric], 4)
                row[f"{init}_per_seed"] = [round(v, 4) for v in per_seed_metric(results, metric)]
            if {"random", "pretrained"} <= set(by_init):
                row["pretrained_minus_random"] = round(row["pretrained"] - row["random"], 4)
            print(json.dumps(row), flush=True)
            rows.append(row)
    _, curve = scalar_curve(FLAGS.pretrained)
    lines = ["| task | metric | " + " | ".join(f"{i} (median)" for i in FLAGS.inits)
             + " | pretrained − random | per seed |",
             "|---|---|" + "---|" * len(FLAGS.inits) + "---|---|"]
    for row in rows:
        per_seed = "; ".join(f"{i}: {row[f'{i}_per_seed']}" for i in FLAGS.inits)
        lines.append(f"| {row['task']} | {row['metric']} | "
                     + " | ".join(f"{row[i]:.4f}" for i in FLAGS.inits)
                     + f" | {row.get('pretrained_minus_random', float('nan')):+.4f} | {per_seed} |")
    lines += ["", "| step | replaced recall | precision | AUC | generator accuracy |",
              "|---|---|---|---|---|"]
    lines += [f"| {s} | {r:.3f} | {p:.3f} | {a:.3f} | {g:.3f} |" for s, r, p, a, g in curve]
    report = os.path.join(FLAGS.output_dir, "report.md")
    with open(report + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(report + ".tmp", report)
    print("\n".join(lines))


if __name__ == "__main__":
    app.run(main)

"""ELECTRA vs MLM at equal pre-training compute: the paper's Figure 1 on your corpus.

    python -m keras_electra.study --config=configs/electra_tiny.json \
        --input_files='../shared/data/gutenberg/train_0*.txt' \
        --glue_dir=../shared/data/glue --tasks=sst2,cola \
        --budget_flops=4e13 --points=3 --max_train_examples=sst2=8000 \
        --finetune_epochs=sst2=1 --output_dir=runs/study   # = `make study`, about an hour

    # the same budget stated as ELECTRA steps (MLM gets the same FLOPs, more steps):
    python -m keras_electra.study ... --budget_steps_electra=3000

    # smoke run (~5 minutes, mostly process start-ups): a shrunken model, 2 points, SST-2
    head -3000 ../shared/data/gutenberg/train_00.txt > /tmp/smoke_corpus.txt
    python -m keras_electra.study --input_files=/tmp/smoke_corpus.txt \
        --hparams='{"vocab_size": 1000, "max_seq_length": 32, "max_position_embeddings": 32,
                    "train_batch_size": 8, "num_warmup_steps": 2}' \
        --glue_dir=../shared/data/glue --tasks=sst2 --budget_steps_electra=20 --points=2 \
        --log_every=5 --max_train_examples=64 --max_seq_length=32 --finetune_epochs=1 \
        --output_dir=/tmp/study_smoke

The budget is primary in FLOPs (`--budget_flops`, pre-training FLOPs per
objective, counted analytically by `keras_electra.flops.train_step_flops`);
`--budget_steps_electra=N` is shorthand for N times an ELECTRA step's FLOPs.
Each objective gets `budget // FLOPs-per-step` steps (rounded down to a
multiple of `--points`), one pre-training run checkpointed at `--points`
equal fractions of it, and every checkpoint is fine-tuned on every task
(`--num_seeds` seeds, median reported), plus a random-init baseline.
`OUTPUT_DIR/report.md` states the plan, the dev scores, whether ELECTRA is
above MLM at equal FLOPs per task and, from the replaced-token recall
curve, why; `OUTPUT_DIR/study.png` plots dev score against FLOPs (log x).
Every run is skipped when its output is complete: re-running the same
command resumes a killed study. Layout: `keras_electra.studies.efficiency_study`.

`make study` (the first command) is budgeted for about an hour of an idle
2-core CPU. The tiny config with the vocabulary trained on the corpus (7,955
WordPieces when trained here) costs 1.490e10 FLOPs per ELECTRA step and 1.346e10 per MLM step,
so 4e13 FLOPs buy 2,682 ELECTRA steps and 2,970 MLM steps (checkpoints at
894/1,788/2,682 and 990/1,980/2,970). Estimated from runs on this machine:

    vocabulary (WordPiece, 85.9k distinct words)       ~5.5 min (318 s)
    ELECTRA  2,682 steps x ~0.38 s                     ~17 min
    MLM      2,970 steps x ~0.26 s                     ~13 min
    7 fine-tunings (3 points x 2 objectives + random init), each
      SST-2  8,000 examples x 1 epoch = 250 steps      ~80 s  (22 s start + dev)
      CoLA   8,551 examples x 3 epochs = 804 steps     ~135 s
                                                       ~25 min
    process start-ups, checkpoint export, report       ~1.5 min
                                                       ~62 min

ELECTRA's step time is the mean of an earlier 6,000-step run of this config
(0.32-0.46 s per 100-step epoch); MLM's assumes an ELECTRA step costs ~1.45 MLM
steps (1.4 in the calibration run DESIGN.md cites, 1.9 measured here under
heavy load, which would make MLM ~10 min); fine-tuning times are from smoke
runs under load. On a busy machine everything stretches. `--vocab_file` skips the vocabulary; a
smaller `--budget_flops` shortens the pre-training in proportion.
"""

import json
import sys

from absl import app, flags

flags.DEFINE_string("config", "configs/electra_tiny.json", "ElectraConfig JSON of the models.")
flags.DEFINE_string("hparams", None, "JSON object or JSON file path overriding config keys "
                    "(for every objective; the study sets `objective` itself).")
flags.DEFINE_string("input_files", None, "Pre-training input: comma-separated text files or "
                    "globs (or TFRecords with --vocab_file), as for keras_electra.pretrain.",
                    required=True)
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt shared by every objective "
                    "(default: trained once on --input_files into OUTPUT_DIR/vocab.txt).")
flags.DEFINE_list("objectives", ["electra", "mlm"], "Pre-training objectives to compare "
                  "(ElectraConfig.objective values).")
flags.DEFINE_float("budget_flops", None, "Pre-training FLOPs per objective (primary; analytic "
                   "matmul FLOPs, forward + backward).")
flags.DEFINE_integer("budget_steps_electra", None, "Alternative to --budget_flops: the FLOPs "
                     "of this many ELECTRA steps; other objectives get as many FLOPs.")
flags.DEFINE_integer("points", 3, "Curve points per objective: checkpoints at k/POINTS of the "
                     "budget, k = 1..POINTS.")
flags.DEFINE_list("tasks", ["sst2", "cola"], "GLUE tasks to fine-tune on.")
flags.DEFINE_string("glue_dir", None, "GLUE data folder holding the tasks' folders (SST-2/, "
                    "CoLA/, ...).")
flags.DEFINE_list("max_train_examples", [], "Fine-tuning examples used: N (every task) or "
                  "TASK=N entries, e.g. sst2=4000 (default: all).")
flags.DEFINE_list("finetune_epochs", [], "Fine-tuning epochs: E (every task) or TASK=E "
                  "entries, e.g. sst2=2 (default: finetune's, 3).")
flags.DEFINE_float("learning_rate", 3e-4, "Fine-tuning peak learning rate (every run).")
flags.DEFINE_integer("num_seeds", 1, "Fine-tuning seeds per point; the report uses medians.")
flags.DEFINE_integer("max_seq_length", 64, "Fine-tuning tokens per example (64 fits SST-2 and "
                     "CoLA sentences; use 128 for sentence-pair tasks).")
flags.DEFINE_bool("baseline", True, "Also fine-tune from random initialisation per task.")
flags.DEFINE_integer("log_every", 100, "Pre-training steps between TensorBoard logs (the "
                     "resolution of the recall curve in the report).")
flags.DEFINE_multi_string("pretrain_flag", [], "Extra flag for every pre-training run, e.g. "
                          "--pretrain_flag=--deterministic.")
flags.DEFINE_multi_string("finetune_flag", [], "Extra flag for every fine-tuning run.")
flags.DEFINE_string("output_dir", None, "Where every run, report.md and study.png go.",
                    required=True)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from keras_electra.studies.efficiency_study import StudyOptions, parse_per_task, run_study

    try:
        options = StudyOptions(
            output_dir=FLAGS.output_dir, input_files=FLAGS.input_files,
            config_path=FLAGS.config, hparams=FLAGS.hparams, vocab_file=FLAGS.vocab_file,
            objectives=tuple(FLAGS.objectives), budget_flops=FLAGS.budget_flops,
            budget_steps=(("electra", FLAGS.budget_steps_electra)
                          if FLAGS.budget_steps_electra is not None else None),
            points=FLAGS.points, tasks=tuple(FLAGS.tasks), glue_dir=FLAGS.glue_dir,
            max_train_examples=parse_per_task(FLAGS.max_train_examples, FLAGS.tasks,
                                              "--max_train_examples"),
            finetune_epochs=parse_per_task(FLAGS.finetune_epochs, FLAGS.tasks,
                                           "--finetune_epochs", float),
            learning_rate=FLAGS.learning_rate,
            num_seeds=FLAGS.num_seeds, max_seq_length=FLAGS.max_seq_length,
            baseline=FLAGS.baseline, log_every=FLAGS.log_every,
            pretrain_flags=tuple(FLAGS.pretrain_flag),
            finetune_flags=tuple(FLAGS.finetune_flag))
        study = run_study(options)
    except (ValueError, RuntimeError) as e:
        sys.exit(f"error: {e}")
    print(json.dumps({"budget_flops": study["budget_flops"],
                      "plans": {o: {k: p[k] for k in ("flops_per_step", "steps", "total_flops")}
                                for o, p in study["plans"].items()}}))


def run():
    app.run(main)


if __name__ == "__main__":
    run()

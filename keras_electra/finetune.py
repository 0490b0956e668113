"""Fine-tune a pre-trained ELECTRA discriminator on GLUE or tagging and score its dev set.

    python -m keras_electra.finetune --task=sst2 --data_dir=glue_data/SST-2 \
        --init_checkpoint=runs/small --model_dir=runs/small_sst2
    python -m keras_electra.finetune --task=rte --data_dir=glue_data/RTE \
        --init_checkpoint=hf/electra-small-discriminator --model_dir=runs/rte \
        --learning_rate=3e-4 --num_seeds=5 --do_predict
    python -m keras_electra.finetune --task=mnli --data_dir=glue_data/MNLI \
        --init_checkpoint=runs/base --model_dir=runs/base_mnli --do_predict
    python -m keras_electra.finetune --task=sst2 --data_dir=glue_data/SST-2 \
        --init_checkpoint=runs/tiny --model_dir=/tmp/smoke --max_train_examples=2000 \
        --num_train_epochs=1

SQuAD (1.1, or 2.0 with --task=squad_v2) and token tagging (NER, chunking) on
CoNLL-style column files:

    python -m keras_electra.finetune --task=squad --data_dir=squad_v1.1 \
        --init_checkpoint=runs/small --model_dir=runs/small_squad   # train-v1.1.json, dev-v1.1.json

    python -m keras_electra.finetune --task=ner --data_dir=conll2003 \
        --init_checkpoint=runs/small --model_dir=runs/small_ner   # train.txt, valid.txt
    python -m keras_electra.finetune --task=chunk --data_dir=conll2003 --tag_column=2 ...

--init_checkpoint is a pre-training model directory of ours
(`pretrainer.weights.h5`, `config.json`, `vocab.txt`; a run still going or
stopped early gives its newest `checkpoints/ckpt-N`), a Hugging Face
ELECTRA discriminator directory (`config.json` with "model_type": "electra",
`model.safetensors`, `vocab.txt`), an original google-research/electra TF1
checkpoint (`model.ckpt-N`; its sizes and `vocab_file` from
`--init_config=CONFIG.json`) or a keras-hub `ElectraBackbone` preset. Defaults are the original ELECTRA
fine-tuning recipe; the original used --learning_rate=3e-4 for Small, 1e-4
for Base and 5e-5 (with --layerwise_lr_decay=0.9) for Large.

Writes under --model_dir: `eval_results.json` (median over seeds of each
dev metric, and every seed's), and per seed (--model_dir itself with one
seed, else `seed_<i>/`) TensorBoard logs in `logs/`, `dev_predictions.tsv`
and with --do_predict `test_predictions/<TASK>.tsv` in the GLUE server's
format (MNLI: `MNLI-m.tsv`, `MNLI-mm.tsv`, and `AX.tsv` when
`glue_data/diagnostic/diagnostic.tsv` is there).
"""

import json
import os
import sys

from absl import app, flags

flags.DEFINE_string("task", None, "GLUE task: cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte, "
                    "wnli (mnli scores dev_matched and dev_mismatched); squad (1.1), squad_v2 "
                    "(2.0); or tagging: ner (alias conll2003), chunk.", required=True)
flags.DEFINE_string("data_dir", None, "The task's folder (glue_data/SST-2; for tagging one "
                    "with train.txt and valid.txt, or give --train_file/--dev_file).")
flags.DEFINE_string("train_file", None, "Tagging/SQuAD: training file (default DATA_DIR/"
                    "train.txt, train-v1.1.json or train-v2.0.json).")
flags.DEFINE_string("dev_file", None, "Tagging/SQuAD: dev file (default DATA_DIR/valid.txt, "
                    "dev-v1.1.json or dev-v2.0.json).")
flags.DEFINE_integer("doc_stride", 128, "SQuAD: tokens between the starts of context windows.")
flags.DEFINE_integer("max_query_length", 64, "SQuAD: question tokens kept.")
flags.DEFINE_integer("max_answer_length", 30, "SQuAD: longest answer in tokens.")
flags.DEFINE_string("test_file", None, "Tagging: optional labelled test file, scored too.")
flags.DEFINE_integer("tag_column", -1, "Tagging: column of the tag (default the last; "
                     "CoNLL-2003 chunk tags are column 2).")
flags.DEFINE_string("init_checkpoint", None, "Pre-trained model: a model directory of ours, a "
                    "Hugging Face ELECTRA directory (with vocab.txt), an original ELECTRA "
                    "model.ckpt-N (with --init_config) or a keras-hub ElectraBackbone preset.",
                    required=True)
flags.DEFINE_string("init_config", None, "ElectraConfig JSON (sizes and vocab_file) of an "
                    "original ELECTRA --init_checkpoint, which stores no sizes.")
flags.DEFINE_string("model_dir", None, "Output directory.", required=True)
flags.DEFINE_float("learning_rate", 1e-4, "Peak learning rate (original: 3e-4 Small, 1e-4 "
                   "Base, 5e-5 Large).")
flags.DEFINE_float("num_train_epochs", None, "Passes over the training set "
                   "(default: 10 for rte and stsb, else 3).")
flags.DEFINE_integer("train_batch_size", 32, "Training batch size.")
flags.DEFINE_integer("eval_batch_size", 32, "Batch size of dev and test prediction.")
flags.DEFINE_integer("max_seq_length", None, "Tokens per example (default 128; 512 for SQuAD, as "
                     "the original); [CLS] and [SEP]s included; "
                     "pairs are truncated longest-first.")
flags.DEFINE_float("layerwise_lr_decay", 0.8, "Learning-rate factor per layer below the top "
                   "(0 disables; original: 0.9 for Large).")
flags.DEFINE_float("weight_decay", 0.01, "AdamW weight decay (not on LayerNorm and biases).")
flags.DEFINE_float("warmup_proportion", 0.1, "Fraction of the steps with linear warmup.")
flags.DEFINE_integer("num_seeds", 1, "Runs with seeds 0..N-1; eval_results.json reports each "
                     "and the median.")
flags.DEFINE_bool("do_predict", False, "Also predict the test set(s) in GLUE submission format.")
flags.DEFINE_integer("max_train_examples", None, "Train on the first N examples only "
                     "(smoke runs).")
flags.DEFINE_integer("max_eval_examples", None, "Tagging/SQuAD: score the first N dev (and "
                     "test) sentences or questions only (smoke runs).")
flags.DEFINE_bool("double_unordered", True, "MRPC and STS-B: also train on every pair in "
                  "the other order (the original's default).")
flags.DEFINE_integer("log_every", 100, "Optimizer steps between TensorBoard summaries.")
flags.DEFINE_integer("verbose", 1, "Keras verbosity: 0 silent, 1 progress bar, 2 one line per "
                     "epoch.")
flags.DEFINE_bool("random_init", False, "Fine-tune the architecture and vocabulary of "
                  "--init_checkpoint from random weights: the no-pre-training baseline.")
FLAGS = flags.FLAGS


TAGGING_TASKS = ("ner", "conll2003", "chunk")
SQUAD_TASKS = {"squad": "1.1", "squad_v2": "2.0"}


def main(argv):
    del argv
    common = dict(
        learning_rate=FLAGS.learning_rate, train_batch_size=FLAGS.train_batch_size,
        eval_batch_size=FLAGS.eval_batch_size,
        layerwise_lr_decay=FLAGS.layerwise_lr_decay, weight_decay=FLAGS.weight_decay,
        warmup_proportion=FLAGS.warmup_proportion, num_seeds=FLAGS.num_seeds,
        max_train_examples=FLAGS.max_train_examples, log_every=FLAGS.log_every,
        verbose=FLAGS.verbose, random_init=FLAGS.random_init,
        init_config=FLAGS.init_config)
    try:
        if FLAGS.task in TAGGING_TASKS:
            results = _tagging(common)
        elif FLAGS.task in SQUAD_TASKS:
            results = _squad(common)
        else:
            from keras_electra.training.run_finetuning import run_finetuning

            if not FLAGS.data_dir:
                raise ValueError(f"--task={FLAGS.task} needs --data_dir.")
            results = run_finetuning(
                FLAGS.task, FLAGS.data_dir, FLAGS.init_checkpoint, FLAGS.model_dir,
                num_train_epochs=FLAGS.num_train_epochs, do_predict=FLAGS.do_predict,
                double_unordered=FLAGS.double_unordered,
                max_seq_length=FLAGS.max_seq_length or 128, **common)
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(json.dumps({"task": FLAGS.task, "metrics": results["metrics"]}, sort_keys=True))


def _data_file(flag_value, name, flag):
    if flag_value:
        return flag_value
    if not FLAGS.data_dir:
        raise ValueError(f"--task={FLAGS.task} needs --{flag} or --data_dir.")
    return os.path.join(FLAGS.data_dir, name)


def _tagging(common):
    from keras_electra.training.run_tagging import run_tagging

    return run_tagging(
        _data_file(FLAGS.train_file, "train.txt", "train_file"),
        _data_file(FLAGS.dev_file, "valid.txt", "dev_file"),
        FLAGS.init_checkpoint, FLAGS.model_dir, test_file=FLAGS.test_file,
        tag_column=FLAGS.tag_column, num_train_epochs=FLAGS.num_train_epochs or 3.0,
        max_seq_length=FLAGS.max_seq_length or 128,
        max_eval_examples=FLAGS.max_eval_examples, **common)


def _squad(common):
    from keras_electra.training.run_squad import run_squad

    version = SQUAD_TASKS[FLAGS.task]
    return run_squad(
        version, _data_file(FLAGS.train_file, f"train-v{version}.json", "train_file"),
        _data_file(FLAGS.dev_file, f"dev-v{version}.json", "dev_file"),
        FLAGS.init_checkpoint, FLAGS.model_dir,
        num_train_epochs=FLAGS.num_train_epochs or 2.0,
        max_seq_length=FLAGS.max_seq_length or 512, doc_stride=FLAGS.doc_stride,
        max_query_length=FLAGS.max_query_length, max_answer_length=FLAGS.max_answer_length,
        max_eval_examples=FLAGS.max_eval_examples, **common)


def run():
    app.run(main)


if __name__ == "__main__":
    run()

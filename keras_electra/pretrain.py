"""Pre-train ELECTRA with `model.fit`.

    python -m keras_electra.pretrain --config=configs/electra_tiny.json \
        --input_files='../shared/data/gutenberg/train_0*.txt' \
        --model_dir=runs/tiny --num_train_steps=1000
    python -m keras_electra.pretrain --config=configs/electra_small.json \
        --hparams='{"learning_rate": 1e-3, "temperature": 2.0}' \
        --vocab_file=vocab.txt --input_files=corpus.txt --model_dir=runs/small
    python -m keras_electra.pretrain --config=configs/electra_small.json \
        --vocab_file=vocab.txt --input_files='data/pretrain_data.tfrecord-*' \
        --eval_files=data/heldout.tfrecord.gz --eval_steps=50 --model_dir=runs/small

`--input_files` are pre-training TFRecords (`build_pretraining_data`, or the
original google-research/electra shards) or raw text for small runs: files
named `*.tfrecord`, `*.tfrecord.gz` or `*.tfrecord-*-of-*` are TFRecords
unless `--input_format` says otherwise. TFRecords need the `--vocab_file`
they were built with, and their length must be the config's max_seq_length.

Distributed and resumable:

    python -m keras_electra.pretrain ... --strategy=mirrored --cpu_replicas=2
    python -m keras_electra.pretrain ... --strategy=mirrored --num_gpus=8 --mixed_precision=bfloat16
    python -m keras_electra.pretrain ... --remat  # gradient checkpointing: less memory
    TF_CONFIG='{"cluster": {"worker": ["host1:2222", "host2:2222"]},
                "task": {"type": "worker", "index": 0}}' \
        python -m keras_electra.pretrain ... --strategy=multi_worker
    python -m keras_electra.pretrain ... --strategy=tpu --tpu=local --steps_per_execution=200

Re-running the same command on the same --model_dir resumes from the newest
checkpoint exactly (weights, optimizer, step, RNG and data position).

Writes `vocab.txt`, `config.json`, `checkpoints/` (every
--save_checkpoints_steps), TensorBoard logs (`logs/train`, `logs/eval`), the
final `pretrainer.weights.h5` and `metrics.json` under `--model_dir`.
"""

import json
import sys

from absl import app, flags

flags.DEFINE_string("config", None, "Path of an ElectraConfig JSON (default: ELECTRA-Small).")
flags.DEFINE_string("hparams", None, "JSON object or JSON file path overriding config keys.")
flags.DEFINE_string("model_dir", None, "Output directory.", required=True)
flags.DEFINE_string("input_files", None, "Comma-separated files or globs: pre-training "
                    "TFRecords (GZIP if named *.gz), or text (one paragraph per line, blank "
                    "line between documents).", required=True)
flags.DEFINE_enum("input_format", "auto", ["auto", "text", "tfrecord"],
                  "auto: TFRecords if every file is named *.tfrecord, *.tfrecord.gz or "
                  "*.tfrecord-*-of-*, text if none is.")
flags.DEFINE_string("eval_files", None, "Held-out files (same format as --input_files), "
                    "evaluated after training; eval_* metrics are printed and saved.")
flags.DEFINE_integer("eval_steps", None,
                     "Evaluation batches (default: one pass over --eval_files).")
flags.DEFINE_enum("validate_records", "first", ["first", "full"],
                  "TFRecord check before training: the first record of each file, or every record.")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt; trained on text input when absent, "
                    "required for TFRecords.")
flags.DEFINE_integer("vocab_size", None, "Size of the vocabulary to train (default: config).")
flags.DEFINE_integer("num_train_steps", None, "Optimizer steps (default: config).")
flags.DEFINE_integer("steps_per_epoch", 100, "Steps between progress summaries.")
flags.DEFINE_integer("verbose", 1, "Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch.")
flags.DEFINE_enum("mixed_precision", None, ["float32", "bfloat16", "float16"],
                  "Compute dtype (variables stay float32; float16 uses loss scaling). "
                  "Default: the config's.")
flags.DEFINE_bool("remat", None, "Recompute each encoder block in the backward pass instead "
                  "of keeping its activations: less memory, about one more forward pass of "
                  "compute, the same gradients (ElectraConfig.remat). Default: the config's.")
flags.DEFINE_integer("gradient_accumulation_steps", None, "Micro-batches per optimizer update "
                     "(must divide train_batch_size). Default: the config's.")
flags.DEFINE_enum("strategy", "one_device", ["one_device", "mirrored", "multi_worker", "tpu"],
                  "Distribution: one device (first GPU, else CPU); mirrored replicas on this "
                  "machine; multi_worker (MultiWorkerMirroredStrategy from TF_CONFIG); tpu.")
flags.DEFINE_string("tpu", None, "TPU name or grpc:// address for --strategy=tpu "
                    "(default: 'local', the TPU of this Cloud TPU VM).")
flags.DEFINE_integer("num_gpus", None, "GPUs for --strategy=mirrored (default: all visible).")
flags.DEFINE_integer("cpu_replicas", None, "Split the CPU into N logical devices and mirror "
                     "over them (--strategy=mirrored; for testing without GPUs).")
flags.DEFINE_integer("save_checkpoints_steps", 1000,
                     "Optimizer steps between checkpoints (0: only at the end).")
flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints kept in MODEL_DIR/checkpoints.")
flags.DEFINE_integer("log_every", 100, "Optimizer steps between TensorBoard summaries.")
flags.DEFINE_string("init_checkpoint", None, "Start a NEW run from these weights: a model "
                    "directory or checkpoint of ours, a Hugging Face ELECTRA directory, an "
                    "original ELECTRA model.ckpt-N (sized by --config) or a keras-hub "
                    "ElectraBackbone preset (ignored when MODEL_DIR has a checkpoint to "
                    "resume).")
flags.DEFINE_integer("steps_per_execution", 1, "Steps per compiled call (e.g. 100 on TPUs).")
flags.DEFINE_enum("jit_compile", "auto", ["auto", "true", "false"],
                  "XLA-compile the train step (TPUs always compile).")
flags.DEFINE_bool("deterministic", False, "Deterministic ops and input order (exactly "
                  "repeatable runs on CPU; slower).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from keras_electra.config import ElectraConfig
    from keras_electra.training.run_pretraining import run_pretraining
    from keras_electra.training.strategies import make_strategy

    try:
        # First: logical CPU devices must be split before TensorFlow starts.
        strategy = make_strategy(FLAGS.strategy, tpu=FLAGS.tpu, num_gpus=FLAGS.num_gpus,
                                 cpu_replicas=FLAGS.cpu_replicas)
        config = ElectraConfig.from_json(FLAGS.config) if FLAGS.config else ElectraConfig()
        config = config.with_overrides(FLAGS.hparams)
        mixed_precision = FLAGS.mixed_precision
        if FLAGS.strategy == "tpu" and mixed_precision is None:
            mixed_precision = "bfloat16"  # TPUs' native half precision
        flag_overrides = {"mixed_precision": mixed_precision, "remat": FLAGS.remat,
                          "gradient_accumulation_steps": FLAGS.gradient_accumulation_steps}
        config = config.with_overrides({k: v for k, v in flag_overrides.items() if v is not None})
        _, metrics = run_pretraining(
            config, FLAGS.model_dir, FLAGS.input_files,
            num_train_steps=FLAGS.num_train_steps, steps_per_epoch=FLAGS.steps_per_epoch,
            vocab_file=FLAGS.vocab_file, vocab_size=FLAGS.vocab_size, verbose=FLAGS.verbose,
            input_format=FLAGS.input_format, eval_files=FLAGS.eval_files,
            eval_steps=FLAGS.eval_steps, validate_records=FLAGS.validate_records,
            strategy=strategy, save_checkpoints_steps=FLAGS.save_checkpoints_steps,
            keep_checkpoint_max=FLAGS.keep_checkpoint_max, log_every=FLAGS.log_every,
            init_checkpoint=FLAGS.init_checkpoint,
            steps_per_execution=FLAGS.steps_per_execution,
            jit_compile={"auto": "auto", "true": True, "false": False}[FLAGS.jit_compile],
            deterministic=FLAGS.deterministic)
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(json.dumps({"final_metrics": metrics}, sort_keys=True))


def run():
    app.run(main)


if __name__ == "__main__":
    run()

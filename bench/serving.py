"""Serving speed, text in: the exported SavedModel vs transformers (PyTorch) on CPU.

    python bench/serving.py --model_dir=runs/demo --requests=500 --batches=50 --repeats=3
    python bench/serving.py --config=configs/electra_small.json  # random weights, see below
    python bench/serving.py --config=configs/electra_tiny.json --hparams='{"vocab_size": 2000}' \\
        --requests=20 --batches=2 --repeats=1 --warmup=2  # smoke run

One model, two servers. `--model_dir` (a pre-training model directory of
ours, or a Hugging Face ELECTRA one) is exported with `export_saved_model`
to a temporary folder and loaded with `tf.saved_model.load` (after
`import tensorflow_text`), as TF Serving would; its `--signature`
(`detect_text`: text -> per-token replaced probability, or `embed_text`:
text -> `sequence_output`) is what gets timed. The same weights are written
with `to_transformers` and loaded as `transformers.ElectraForPreTraining`
plus its fast tokenizer (same `vocab.txt`, same lower-casing), called as a
user would: `tokenizer(texts, padding="longest", truncation=True,
max_length=...)`, then the model under `torch.inference_mode()`, then
`sigmoid(logits)` (or `electra(...).last_hidden_state`). Tokenization is
timed on both sides: the SavedModel tokenizes in its graph, so "text in,
numpy array out" is the only like-for-like request. (`detect_text` also
computes the tokens' strings and character offsets, which the PyTorch side
does not: that work counts against keras_electra.)

Without `--model_dir`, a randomly initialised model of `--config` (+
`--hparams`) is built and saved first; its vocabulary is `--vocab_file`,
or, without one, a WordPiece vocabulary of `vocab_size` trained on the
SST-2 train sentences (`vocab_size` then becomes the learned size). Random
weights change nothing about speed.

Texts: the SST-2 dev sentences (`--data_dir`), the same list for both
sides. Batch-1 latency: `--requests` requests, one sentence each, in order
(p50 and p99 in ms). Batch throughput: `--batches` batches of
`--batch_size` consecutive sentences (sequences/s). Each side warms up
first (`--warmup` calls of each shape, untimed), then `--repeats` rounds
alternate the sides (A B, B A, ...); each reported number is the median
over rounds, with every round's value in `*_all`.

Threads: TensorFlow's intra-op pool and `torch.set_num_threads` both get
`--num_threads` (default: every core this process may run on, which is
also what each library picks by itself on a machine without SMT);
inter-op pools are left at their defaults and reported. Run it on an
otherwise idle machine: under load, torch's OpenMP threads spin-wait on
each other and its numbers collapse far more than TensorFlow's (the start's
load average is reported, and a high one logged as a warning).

Parity: on the first batch both sides must produce the same word pieces
and outputs within `--tolerance` at real (non-padding) tokens; the max
difference is reported, and a mismatch makes the exit status 1 after all
lines are printed (a bug to fix, not noise).

Output: one JSON line per metric (`latency_ms_p50`, `latency_ms_p99`,
`throughput_seq_per_s`, `parity`), each carrying `keras` and `hf` values,
`ratio_keras_over_hf` and which direction is better, plus the run's
settings and machine (cpu count and model, library versions).
"""

import json
import os
import platform
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # noqa: E402

flags.DEFINE_string("model_dir", None, "Pre-training model directory (ours or Hugging Face "
                    "ELECTRA). Default: a random model of --config.")
flags.DEFINE_string("config", "configs/electra_small.json",
                    "ElectraConfig JSON for the random model (without --model_dir).")
flags.DEFINE_string("hparams", None, "JSON object or file overriding --config keys.")
flags.DEFINE_string("vocab_file", None, "vocab.txt for the random model; default: trained on "
                    "the SST-2 train sentences (vocab_size of the config).")
flags.DEFINE_string("data_dir", "../shared/data/glue/SST-2", "SST-2 folder (dev.tsv, train.tsv).")
flags.DEFINE_integer("max_texts", None, "Use only the first N dev sentences.")
flags.DEFINE_enum("signature", "detect_text", ["detect_text", "embed_text"],
                  "SavedModel signature to time (the PyTorch side computes the same output).")
flags.DEFINE_integer("max_seq_length", None, "Truncation length (default: the config's).")
flags.DEFINE_integer("requests", 200, "Batch-1 requests per latency timing.")
flags.DEFINE_integer("batches", 20, "Batches per throughput timing.")
flags.DEFINE_integer("batch_size", 32, "Sequences per batch for throughput (and parity).")
flags.DEFINE_integer("warmup", 5, "Untimed calls per side and shape before timing.")
flags.DEFINE_integer("repeats", 3, "Timing rounds per side, alternating (median reported).")
flags.DEFINE_integer("num_threads", None, "Intra-op threads for both TF and torch "
                     "(default: the cores this process may use).")
flags.DEFINE_float("tolerance", 1e-4, "Max |keras - hf| at real tokens on the first batch.")
flags.DEFINE_integer("seed", 0, "Seed of the random model.")
FLAGS = flags.FLAGS

_OUTPUT = {"detect_text": "replaced_probability", "embed_text": "sequence_output"}


# ----------------------------------------------------------------------------- the model

def _random_model_dir(work_dir, texts_dir):
    """Builds, saves and returns a random model directory of `--config` (+ vocabulary)."""
    import keras

    from keras_electra.builders import build_pretrainer
    from keras_electra.config import ElectraConfig
    from keras_electra.data.tasks.glue import read_glue
    from keras_electra.data.vocab import load_vocabulary, train_vocabulary
    from keras_electra.training.checkpoints import save_pretrainer

    config = ElectraConfig.from_json(FLAGS.config).with_overrides(FLAGS.hparams)
    vocab_file = FLAGS.vocab_file
    if vocab_file is None:
        corpus = os.path.join(work_dir, "sst2_train.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.writelines(e.text_a.strip() + "\n" for e in read_glue("sst2", texts_dir, "train"))
        vocab_file = os.path.join(work_dir, "vocab.txt")
        train_vocabulary([corpus], vocab_file, config.vocab_size, lowercase=config.do_lower_case)
    config = config.with_overrides({"vocab_file": vocab_file,
                                    "vocab_size": len(load_vocabulary(vocab_file))})
    keras.utils.set_random_seed(FLAGS.seed)
    pretrainer = build_pretrainer(config)
    model_dir = os.path.join(work_dir, "model")
    save_pretrainer(pretrainer, config, model_dir)
    return model_dir


def _keras_side(model_dir, work_dir, max_seq_length):
    """`(predict(texts) -> numpy, loaded SavedModel)` of the exported text-in model."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

    from keras_electra.export.saved_model_export import export_saved_model

    export_dir = os.path.join(work_dir, "serving", "electra", "1")
    export_saved_model(model_dir, export_dir, max_seq_length=max_seq_length, warmup=False)
    loaded = tf.saved_model.load(export_dir)
    signature = loaded.signatures[FLAGS.signature]
    output = _OUTPUT[FLAGS.signature]

    def predict(texts):
        return signature(text=tf.constant(texts))[output].numpy()

    return predict, loaded


def _hf_side(model_dir, work_dir, max_seq_length):
    """`(predict(texts) -> numpy, tokenizer, model)`: the same weights in transformers."""
    import torch
    import transformers

    from keras_electra.convert.transformers import to_transformers
    from keras_electra.training.run_finetuning import load_pretrained

    pretrainer, config = load_pretrained(model_dir)
    hf_dir = os.path.join(work_dir, "hf")
    to_transformers(pretrainer, hf_dir, vocab_file=config.vocab_file)
    del pretrainer
    tokenizer = transformers.ElectraTokenizerFast.from_pretrained(
        hf_dir, do_lower_case=config.do_lower_case)
    if not tokenizer.is_fast:
        raise RuntimeError("expected a fast (Rust) tokenizer")
    model = transformers.ElectraForPreTraining.from_pretrained(hf_dir).eval()
    detect = FLAGS.signature == "detect_text"

    def predict(texts):
        encoded = tokenizer(texts, padding="longest", truncation=True,
                            max_length=max_seq_length, return_tensors="pt")
        with torch.inference_mode():
            if detect:
                return torch.sigmoid(model(**encoded).logits).numpy()
            return model.electra(**encoded).last_hidden_state.numpy()

    return predict, tokenizer, config


# ----------------------------------------------------------------------------- measuring

def _latency_ms(predict, texts, count):
    import numpy as np

    latencies = []
    for i in range(count):
        request = [texts[i % len(texts)]]
        start = time.perf_counter()
        predict(request)
        latencies.append(1e3 * (time.perf_counter() - start))
    return np.percentile(latencies, [50, 99])


def _throughput(predict, batches):
    start = time.perf_counter()
    for batch in batches:
        predict(batch)
    return sum(len(b) for b in batches) / (time.perf_counter() - start)


def _parity(keras_predict, loaded, tokenizer, hf_predict, batch, max_seq_length):
    """Same word pieces and outputs within `--tolerance` at real tokens, on `batch`."""
    import numpy as np
    import tensorflow as tf

    # detect_text also returns the pieces and the mask, whatever --signature is timed.
    detected = loaded.signatures["detect_text"](text=tf.constant(batch))
    keras_tokens = [[t.decode("utf-8") for t in row] for row in detected["tokens"].numpy()]
    keras_mask = detected["input_mask"].numpy().astype(bool)
    encoded = tokenizer(batch, padding="longest", truncation=True, max_length=max_seq_length)
    hf_mask = np.array(encoded["attention_mask"], dtype=bool)
    hf_tokens = [tokenizer.convert_ids_to_tokens(ids) for ids in encoded["input_ids"]]
    same_tokens = [
        [k for k, m in zip(kt, km) if m] == [h for h, m in zip(ht, hm) if m]
        for kt, km, ht, hm in zip(keras_tokens, keras_mask, hf_tokens, hf_mask)]
    keras_out, hf_out = keras_predict(batch), hf_predict(batch)
    result = {"rows": len(batch), "rows_same_tokens": int(sum(same_tokens)),
              "keras_width": int(keras_out.shape[1]), "hf_width": int(hf_out.shape[1])}
    if keras_out.shape != hf_out.shape or not all(same_tokens):
        first = same_tokens.index(False) if not all(same_tokens) else 0
        result.update(max_abs_diff=None, ok=False, first_differing_row=first,
                      keras_tokens=[t for t, m in zip(keras_tokens[first], keras_mask[first]) if m],
                      hf_tokens=[t for t, m in zip(hf_tokens[first], hf_mask[first]) if m])
        return result
    real = keras_mask & hf_mask
    diff = np.abs(keras_out.astype(np.float64) - hf_out.astype(np.float64))[real]
    max_diff = float(diff.max()) if diff.size else 0.0
    result.update(real_tokens=int(real.sum()), max_abs_diff=max_diff,
                  ok=bool(max_diff <= FLAGS.tolerance))
    return result


def _machine(num_threads, load_at_start):
    import tensorflow as tf
    import torch
    import transformers

    cpu_model = platform.processor() or None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu_model = next((line.split(":", 1)[1].strip() for line in f
                              if line.startswith("model name")), cpu_model)
    except OSError:
        pass
    return {"cpu_count": os.cpu_count(), "cpu_model": cpu_model, "num_threads": num_threads,
            "load_avg_1m_at_start": round(load_at_start, 2),
            "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "tensorflow": tf.__version__, "torch": torch.__version__,
            "transformers": transformers.__version__}


def _metric(record, name, keras_values, hf_values, higher_is_better, digits):
    keras_value, hf_value = statistics.median(keras_values), statistics.median(hf_values)
    return dict(record, metric=name, keras=round(keras_value, digits), hf=round(hf_value, digits),
                ratio_keras_over_hf=round(keras_value / hf_value, 3),
                better="higher" if higher_is_better else "lower",
                keras_all=[round(v, digits) for v in keras_values],
                hf_all=[round(v, digits) for v in hf_values])


def main(argv):
    del argv
    num_threads = FLAGS.num_threads or len(os.sched_getaffinity(0))
    load_at_start = os.getloadavg()[0]
    if load_at_start > 0.5 * len(os.sched_getaffinity(0)):
        # Seen here: with 2 threads on a busy 2-core machine, torch's OpenMP
        # workers spin-wait on each other and a 2-layer model took 200 ms per
        # request instead of 1 ms; TF's pool degrades far less. Such a ratio
        # measures the machine's load, not the libraries.
        logging.warning("load average %.1f on %d cores: other processes are running; "
                        "the timings (torch's most) will not be meaningful.",
                        load_at_start, len(os.sched_getaffinity(0)))
    import tensorflow as tf

    # Before any TF op runs: the pools are fixed at first use.
    tf.config.threading.set_intra_op_parallelism_threads(num_threads)
    import torch

    torch.set_num_threads(num_threads)

    from keras_electra.data.tasks.glue import read_glue

    texts = [e.text_a for e in read_glue("sst2", FLAGS.data_dir, "dev")][:FLAGS.max_texts]
    if len(texts) < FLAGS.batch_size:
        raise app.UsageError(f"{len(texts)} texts, fewer than --batch_size={FLAGS.batch_size}.")
    with tempfile.TemporaryDirectory(prefix="bench_serving.") as work_dir:
        model_dir = FLAGS.model_dir or _random_model_dir(work_dir, FLAGS.data_dir)
        hf_predict, tokenizer, config = _hf_side(model_dir, work_dir, FLAGS.max_seq_length)
        max_seq_length = FLAGS.max_seq_length or config.max_seq_length
        keras_predict, loaded = _keras_side(model_dir, work_dir, max_seq_length)

        batches = [[texts[(i * FLAGS.batch_size + j) % len(texts)]
                    for j in range(FLAGS.batch_size)] for i in range(FLAGS.batches)]
        parity = _parity(keras_predict, loaded, tokenizer, hf_predict, batches[0],
                         max_seq_length)
        sides = {"keras": keras_predict, "hf": hf_predict}
        for predict in sides.values():  # untimed: tracing, allocator, thread pools
            for i in range(FLAGS.warmup):
                predict([texts[i % len(texts)]])
                predict(batches[i % len(batches)])
        p50, p99, throughput = ({name: [] for name in sides} for _ in range(3))
        for round_ in range(FLAGS.repeats):
            for name in (list(sides) if round_ % 2 == 0 else list(sides)[::-1]):
                latency = _latency_ms(sides[name], texts, FLAGS.requests)
                p50[name].append(float(latency[0]))
                p99[name].append(float(latency[1]))
                throughput[name].append(_throughput(sides[name], batches))
                logging.info("round %d %s: p50 %.2f ms, p99 %.2f ms, %.1f seq/s", round_, name,
                             latency[0], latency[1], throughput[name][-1])
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True,
                                                 max_length=max_seq_length)["input_ids"]]

    record = {"bench": "serving", "signature": FLAGS.signature,
              "model": FLAGS.model_dir or f"random {os.path.basename(FLAGS.config)}",
              "vocab_size": config.vocab_size, "hidden_size": config.hidden_size,
              "num_layers": config.num_layers, "max_seq_length": max_seq_length,
              "texts": f"SST-2 dev ({len(texts)} sentences)",
              "mean_tokens": round(sum(lengths) / len(lengths), 1),
              "requests": FLAGS.requests, "batches": FLAGS.batches,
              "batch_size": FLAGS.batch_size, "repeats": FLAGS.repeats, "dtype": "float32",
              **_machine(num_threads, load_at_start)}
    lines = [
        dict(_metric(record, "latency_ms_p50", p50["keras"], p50["hf"], False, 3), batch_size=1),
        dict(_metric(record, "latency_ms_p99", p99["keras"], p99["hf"], False, 3), batch_size=1),
        _metric(record, "throughput_seq_per_s", throughput["keras"], throughput["hf"], True, 1),
        dict(record, metric="parity", tolerance=FLAGS.tolerance, **parity),
    ]
    for line in lines:
        print(json.dumps(line), flush=True)
    if not parity["ok"]:
        logging.error("parity failed on the first batch: %s", json.dumps(parity))
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)

"""Convert a pre-trained ELECTRA between keras_electra, Hugging Face, the original and keras-hub.

    # Hugging Face -> keras_electra (a model directory pretrain/finetune/export read)
    python -m keras_electra.convert --from=transformers --to=keras_electra \
        --input=hf/electra-small --output=runs/imported
    # original google-research/electra TF1 checkpoint -> Hugging Face
    python -m keras_electra.convert --from=original --to=transformers \
        --input=electra_small/model.ckpt-1000000 --config=configs/electra_small.json \
        --output=hf/electra-small
    # keras_electra -> keras-hub ElectraBackbone preset (+ its tokenizer)
    python -m keras_electra.convert --from=keras_electra --to=keras_hub \
        --input=runs/demo --output=presets/electra_demo

Inputs (`--from`, or `auto` to detect): `keras_electra` (a model directory
of ours), `transformers` (an `ElectraForPreTraining`/`ElectraModel`
directory, or one with `discriminator/` and `generator/` subdirectories;
`--generator_input` names a separate `ElectraForMaskedLM` directory),
`original` (a TF1 `model.ckpt-N` or its directory; `--config` gives the
sizes and `vocab_file`), `keras_hub` (an `ElectraBackbone` preset).

Outputs (`--to`): `keras_electra` writes `config.json`, `vocab.txt`,
`pretrainer.weights.h5`; `transformers` writes `OUTPUT/discriminator`
(`ElectraForPreTraining`) and, when the input had one, `OUTPUT/generator`
(`ElectraForMaskedLM`), each loadable with `from_pretrained`; `keras_hub`
writes a preset of the discriminator encoder and its `ElectraTokenizer`
(keras-hub uses the tanh-approximate GELU: exact for models that have
`hidden_act="gelu_approximate"`, a small documented difference otherwise).
Every output is written into a temporary directory, then renamed.
"""

import os
import shutil
import sys
import tempfile

from absl import app, flags

SOURCES = ("auto", "keras_electra", "transformers", "original", "keras_hub")
TARGETS = ("keras_electra", "transformers", "keras_hub")

flags.DEFINE_enum("from", "auto", SOURCES, "Format of --input (auto: detect it).")
flags.DEFINE_enum("to", None, TARGETS, "Format to write to --output.", required=True)
flags.DEFINE_string("input", None, "Checkpoint to read (see --from).", required=True)
flags.DEFINE_string("output", None, "Directory to write (must not exist).", required=True)
flags.DEFINE_string("config", None, "ElectraConfig JSON with the sizes and vocab_file of an "
                    "original TF1 checkpoint (--from=original), which stores none.")
flags.DEFINE_string("generator_input", None, "Hugging Face ElectraForMaskedLM directory of the "
                    "generator (with --from=transformers).")
FLAGS = flags.FLAGS


def convert(source, target, input_path, output, config=None, generator_input=None):
    """Reads `input_path` (format `source`) and writes `output` (format `target`)."""
    from keras_electra.convert.sources import detect_format, read_pretrainer

    source = detect_format(input_path) if source == "auto" else source
    if generator_input is not None and source != "transformers":
        raise ValueError(f"--generator_input: only with --from=transformers, not {source}.")
    if os.path.exists(output):
        raise ValueError(f"--output={output}: already exists; choose a new directory.")
    if source == "transformers" and generator_input is not None:
        from keras_electra.convert.transformers import config_from_transformers, from_transformers

        pretrainer = from_transformers(input_path, generator_input)
        electra_config = config_from_transformers(input_path, generator_input)
        has_generator = True
    else:
        pretrainer, electra_config, has_generator = read_pretrainer(input_path, config, source)

    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(output)}.tmp", dir=parent)
    try:
        _write(target, pretrainer, electra_config, has_generator, tmp)
        os.rename(tmp, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return source


def _write(target, pretrainer, config, has_generator, directory):
    if target == "keras_electra":
        from keras_electra.training.checkpoints import save_pretrainer

        save_pretrainer(pretrainer, config, directory)
    elif target == "transformers":
        from keras_electra.convert.sources import DISCRIMINATOR_SUBDIR, GENERATOR_SUBDIR
        from keras_electra.convert.transformers import to_transformers

        to_transformers(
            pretrainer, os.path.join(directory, DISCRIMINATOR_SUBDIR),
            generator_out_dir=os.path.join(directory, GENERATOR_SUBDIR) if has_generator else None,
            vocab_file=config.vocab_file)
    else:
        import keras_hub

        from keras_electra.convert.keras_hub import to_keras_hub

        to_keras_hub(pretrainer.discriminator).save_to_preset(directory)
        if config.vocab_file:
            keras_hub.models.ElectraTokenizer(
                vocabulary=config.vocab_file, lowercase=config.do_lower_case,
            ).save_to_preset(directory)


def main(argv):
    del argv
    try:
        source = convert(getattr(FLAGS, "from"), FLAGS.to, FLAGS.input, FLAGS.output,
                         config=FLAGS.config, generator_input=FLAGS.generator_input)
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(f"wrote {FLAGS.output} ({source} -> {FLAGS.to})")


def run():
    app.run(main)


if __name__ == "__main__":
    run()

"""Export a model as a TF Serving SavedModel that takes raw text.

    # pre-trained model: replaced-token detector + embeddings
    python -m keras_electra.export --model_dir=runs/demo --export_dir=serving/electra/1
    # fine-tuned classifier, tagger or SQuAD model (a finetune --model_dir, or its seed_<i>/)
    python -m keras_electra.export --model_dir=runs/sst2 --export_dir=serving/sst2/1
    docker run -p 8501:8501 -v $PWD/serving/sst2:/models/sst2 -e MODEL_NAME=sst2 \
        tensorflow/serving

The export directory must not exist (TF Serving versions are immutable).

    # on-device (LiteRT): token ids in, fixed [1, max_seq_length]; the client tokenizes
    python -m keras_electra.export --model_dir=runs/sst2 --format=tflite \
        --export_dir=sst2_int8.tflite --quantize=dynamic_int8
"""

import json
import sys

from absl import app, flags

flags.DEFINE_string("model_dir", None, "A pre-training model directory (ours or Hugging "
                    "Face ELECTRA) or a fine-tuning output with model.keras.", required=True)
flags.DEFINE_string("export_dir", None, "BASE/NAME/VERSION, VERSION an integer; with "
                    "--format=tflite, the .tflite file to write.", required=True)
flags.DEFINE_enum("format", "saved_model", ["saved_model", "tflite"],
                  "saved_model: raw-text SavedModel for TF Serving; tflite: the token-id "
                  "signature as a fixed-shape [1, max_seq_length] LiteRT flatbuffer.")
flags.DEFINE_enum("quantize", None, ["dynamic_int8"],
                  "--format=tflite only: dynamic-range int8 weights.")
flags.DEFINE_integer("max_seq_length", None, "Longest row (default: the model's own).")
flags.DEFINE_bool("warmup", True, "Write assets.extra/tf_serving_warmup_requests.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    if FLAGS.quantize and FLAGS.format != "tflite":
        sys.exit("error: --quantize applies to --format=tflite only.")
    try:
        if FLAGS.format == "tflite":
            from keras_electra.export.tflite_export import export_tflite
            result = export_tflite(FLAGS.model_dir, FLAGS.export_dir,
                                   max_seq_length=FLAGS.max_seq_length, quantize=FLAGS.quantize)
        else:
            from keras_electra.export.saved_model_export import export_saved_model
            result = export_saved_model(FLAGS.model_dir, FLAGS.export_dir,
                                        max_seq_length=FLAGS.max_seq_length,
                                        warmup=FLAGS.warmup)
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(json.dumps(result))


def run():
    app.run(main)


if __name__ == "__main__":
    run()

"""Vocabularies, pre-training TFRecords and `tf.data` input pipelines.

`keras_electra.data.pretraining_dataset` is the TFRecord pipeline (a function:
importing it here binds the package attribute to the function, not to the
submodule of the same name). Its imports are TensorFlow and absl only, which
`keras_electra` loads anyway.
"""

from keras_electra.data.pretraining_dataset import pretraining_dataset
from keras_electra.data.tfrecord_checks import validate_tfrecords

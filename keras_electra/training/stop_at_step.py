"""`StopAtStep`: ends `fit` exactly at an optimizer step."""

import keras


class StopAtStep(keras.callbacks.Callback):
    """Stops training once `optimizer.iterations` reaches `last_step`.

    A resumed run starts mid-epoch, so its epochs no longer line up with the
    step count; `fit` is given enough epochs and this callback ends it at
    the same step as an uninterrupted run (Keras checks `stop_training`
    after every batch).

    Example:

    >>> model.fit(dataset, epochs=10, steps_per_epoch=100,  # doctest: +SKIP
    ...           callbacks=[StopAtStep(950)])
    """

    def __init__(self, last_step):
        super().__init__()
        self.last_step = int(last_step)

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.last_step:
            self.model.stop_training = True

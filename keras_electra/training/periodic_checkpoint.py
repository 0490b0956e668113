"""`PeriodicCheckpoint`: a `TrainingCheckpoint` every N optimizer steps during `fit`."""

import keras


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Saves `checkpoint` whenever the optimizer step reaches a multiple of `every_steps`.

    Steps are optimizer updates (`optimizer.iterations`), so with gradient
    accumulation a save falls on an update boundary; with
    `steps_per_execution > 1` it happens at the first batch end at or past
    the multiple. The last step is saved at the end of training. Place it
    after `NonFiniteLossGuard` in the callback list: the guard raises first,
    so a non-finite step is never saved over the last good checkpoint.

    Also registers `checkpoint.attach_iterator` with a model that mixes in
    `TrainIteratorMixin`, so the data position is saved and restored.

    Args:
        checkpoint: a `TrainingCheckpoint`.
        every_steps: optimizer steps between saves (0 or `None`: only at the end).

    Example:

    >>> callback = PeriodicCheckpoint(TrainingCheckpoint(dir, model), 1000)  # doctest: +SKIP
    >>> model.fit(dataset, callbacks=[NonFiniteLossGuard(), callback])  # doctest: +SKIP
    """

    def __init__(self, checkpoint, every_steps):
        super().__init__()
        self.checkpoint = checkpoint
        self.every_steps = every_steps or 0
        self._last_saved = None

    def _step(self):
        return int(self.model.optimizer.iterations.numpy())

    def on_train_begin(self, logs=None):
        self._last_saved = self._step()
        if hasattr(self.model, "add_train_iterator_hook"):
            self.model.add_train_iterator_hook(self.checkpoint.attach_iterator)

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        if self.every_steps and step // self.every_steps > self._last_saved // self.every_steps:
            self.checkpoint.save(step)
            self._last_saved = step

    def on_train_end(self, logs=None):
        if hasattr(self.model, "remove_train_iterator_hook"):
            self.model.remove_train_iterator_hook(self.checkpoint.attach_iterator)
        step = self._step()
        if step != self._last_saved:
            self.checkpoint.save(step)
            self._last_saved = step

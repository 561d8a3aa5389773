"""Video as a sequence of frames: a CNN per frame, then a model over time.

- :mod:`.models`: the per-frame CNN, the GRU/LSTM over frames and the causal temporal
  transformer; :func:`load` for bundled and retrained models.
- :mod:`.analysis`: :func:`analyse` one clip — features, states, the belief after every
  frame, attention, frame importance.
- :mod:`.io`: :func:`read_clip` for video files, animations and frame folders.
- :mod:`.generated`: generated clips of one moving shape; :mod:`.tasks`: the training task.
"""

from explorer.engine.video.analysis import (
    VideoTrace,
    accuracy_on_fresh_clips,
    analyse,
    frame_importance,
    read_and_analyse,
    to_model_frames,
)
from explorer.engine.video.io import Clip, VideoReadError, read_clip
from explorer.engine.video.models import (
    BUNDLED,
    FrameCNN,
    LoadedModel,
    VideoClassifier,
    VideoModelError,
    build,
    load,
    recurrent_step,
    run_recurrent_stepwise,
    time_weights,
)

__all__ = [
    "BUNDLED", "Clip", "FrameCNN", "LoadedModel", "VideoClassifier", "VideoModelError", "VideoReadError",
    "VideoTrace", "accuracy_on_fresh_clips", "analyse", "build", "frame_importance", "load", "read_and_analyse",
    "read_clip", "recurrent_step", "run_recurrent_stepwise", "time_weights", "to_model_frames",
]

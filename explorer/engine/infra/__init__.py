"""What every feature of the engine stands on: reading images and weight files, the hub,
progress and cancellation, and the generated scenes.

Nothing here is imported eagerly: the main window imports :mod:`.images` before
torch is loaded, so this package's ``__init__`` stays empty.
"""

"""The Qt side: main window, panels, reusable widgets and background workers."""

"""The I/O shell, the only code that awaits: the async driver, the sync driver, effects, console."""

"""sedcycle: sound-event detection with cycle re-labelling (RFCx 5th-place recipe)."""

__version__ = "0.1.0"

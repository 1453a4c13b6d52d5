"""CoverHunter cover song identification on Kedro."""

__version__ = "0.1.0"

"""How a trained model lives on disk: one folder format, written and read by one function pair."""

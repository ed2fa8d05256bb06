"""Retraining the nets on your own material (retrain) and public data sets to do it with (datasets)."""

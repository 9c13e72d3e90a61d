"""mmsim."""

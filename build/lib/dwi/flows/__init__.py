"""Prefect flows. `flows.pipeline.dwi_run` is the main job."""

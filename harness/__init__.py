"""What drives a real `dagster dev` for the end-to-end tests and the benchmark."""

"""Fuzzed inputs: app.yaml, job definitions and the jobs API, each with a bounded budget."""

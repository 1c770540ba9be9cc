"""Tollgate's domain: suites, probes, progress and verdicts, shared by the Lambdas and the CLI."""

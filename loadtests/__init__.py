"""Benchmarks and locust scenarios for the emulator and the connector."""

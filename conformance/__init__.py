"""Conformance harness: run any SFMC connector against the emulator and report rule by rule."""

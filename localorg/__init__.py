"""A Salesforce-compatible server for development, demos, tests and benchmarks."""

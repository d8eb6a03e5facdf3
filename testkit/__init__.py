"""What the tests and the benchmarks share: loopback services (Redis, PostgreSQL), worker processes, waiting,
synthetic texts and seeded review data. Not part of the product (not packaged): the tests and ``bench/`` import
it from the repository root, so a benchmark never imports the test suite."""

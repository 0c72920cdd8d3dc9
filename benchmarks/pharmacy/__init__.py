"""Pharmacy benchmarks: one module per area, each returning table rows for bench_pharmacy.py."""

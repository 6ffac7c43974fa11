//! Benchmarks of the hot paths (see benches/).

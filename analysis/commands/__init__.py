"""What each analysis command does, as functions of typed requests: evaluate, strain,
evaluate-pair, and the register, strain and workflow benchmarks."""

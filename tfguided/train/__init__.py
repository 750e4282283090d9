"""Training: distribution strategies, optimisers with the paper's schedule, the fit loop."""

"""Training: distribution strategies, optimisers with the paper's schedule, losses, the fit loop;
may import tfguided.data, models, eval, crf, scoremaps and files."""

"""A corpus of real programs: numpy functions as the authors of other AD projects' tests, examples and
documentation write them (autograd, Tangent, JAX), adapted only in imports, each with example inputs and
the arguments to differentiate. `python -m tests.corpus.run` runs them all and classifies the outcomes;
tests/test_corpus.py runs them under pytest."""

"""Our energies inside other libraries (optional extras): :mod:`scorematch.interop.deepinv`."""
